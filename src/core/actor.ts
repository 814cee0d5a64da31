// Who a service call acts for. Pure: front ends build it (the CLI from the process, a server from its session).

/**
 * The caller of a service function. `uid`, `gid` and `groups` are what libvirt's polkit rules see
 * when the call runs as this actor; `user` is who the audit log names (under sudo: the admin behind it).
 */
export interface Actor {
  user: string;
  uid: number;
  gid: number;
  /** names of the actor's groups, the primary one included */
  groups: string[];
  via: 'cli' | 'http';
}
