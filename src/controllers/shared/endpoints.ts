/**
 * Where the operator dials a device. In a cluster, the address in the spec (or the HSM's NIC IP) is dialled as is;
 * the sandbox and the tests map those private addresses to simulators on loopback. The mapping is the only
 * difference between the two: everything above it is the same code.
 */
export type DeviceService = 'ssh' | 'ntls';

export interface DeviceAddress {
  host: string;
  port: number;
}

export type EndpointResolver = (address: DeviceAddress, service: DeviceService) => DeviceAddress;

/** Production: dial what the spec says. */
export const dialAsIs: EndpointResolver = (address) => address;
