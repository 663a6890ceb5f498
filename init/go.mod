module gopid1.dev/init

go 1.22
