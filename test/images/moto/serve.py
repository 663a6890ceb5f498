# moto's server, answering one request at a time: its recorder appends every request to one file, and requests
# answered in parallel (gopid1 sends 16 blocks at once) would interleave their lines there.
import os

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

os.environ.setdefault("MOTO_PORT", "5000")
run_simple("0.0.0.0", 5000, DomainDispatcherApplication(create_backend_app), threaded=False)
