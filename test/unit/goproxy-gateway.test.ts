import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewayOf, ipv4AddressesOf } from '../helpers/goproxy.js';

const host = (interfaces: Record<string, string[]>) => (name: string) => interfaces[name] ?? [];
const bridgeOptions = { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': 'docker0' };

describe('the module proxy finds the Docker bridge gateway', () => {
  it('takes the gateway IPAM records', () => {
    const inspect = { IPAM: { Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] }, Options: bridgeOptions };
    assert.equal(gatewayOf(inspect, host({})), '172.17.0.1');
  });

  it('on a freshly started docker.io daemon (no Gateway recorded) takes the bridge interface address in the subnet', () => {
    // Recorded from `docker network inspect bridge` right after `make setup` started docker.io 20.10.
    const inspect = { IPAM: { Config: [{ Subnet: '172.17.0.0/16' }] }, Options: bridgeOptions };
    assert.equal(gatewayOf(inspect, host({ eth0: ['10.0.2.15'], docker0: ['172.17.0.1'] })), '172.17.0.1');
  });

  it('follows a renamed bridge interface and skips addresses outside the subnet', () => {
    const inspect = { IPAM: { Config: [{ Subnet: '10.99.0.0/24' }] }, Options: { 'com.docker.network.bridge.name': 'br-test' } };
    assert.equal(gatewayOf(inspect, host({ docker0: ['172.17.0.1'], 'br-test': ['192.168.5.1', '10.99.0.1'] })), '10.99.0.1');
  });

  it('says what is missing when neither the engine nor this host knows the address', () => {
    const inspect = { IPAM: { Config: [{ Subnet: '172.17.0.0/16' }] }, Options: bridgeOptions };
    assert.throws(() => gatewayOf(inspect, host({ eth0: ['10.0.2.15'] })), /no IPv4 address on its interface docker0/);
  });
});

describe('reading an interface address with iproute2', () => {
  it('finds loopback, which every host has, and nothing for an interface that does not exist', () => {
    assert.ok(ipv4AddressesOf('lo').includes('127.0.0.1'));
    assert.deepEqual(ipv4AddressesOf('gopid1-nosuch0'), []);
  });
});
