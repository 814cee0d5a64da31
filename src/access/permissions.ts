// Who may do what: the one permission table. Pure. The polkit rules are rendered from it
// (polkit-rules.ts) and authorize() (service/authorize.ts) judges raptor's own actions by it.
import type { Actor } from '../core/actor.ts';

/**
 * The roles a caller can have towards one VM: an admin (root, or a member of an admin group), a
 * vm-user who owns it (the domain is named `{user}-*`), a vm-user who does not, and anyone else.
 */
export const ROLES = ['admin', 'owner', 'other-user', 'outsider'] as const;
export type Role = (typeof ROLES)[number];

/** raptor's own actions: each changes volumes, accounts, DNS or system files, so only an admin asks and only root performs them. */
export const RAPTOR_ACTIONS = ['vm create', 'vm destroy', 'vm adopt', 'vm resize', 'vm expire', 'vm reap', 'user add', 'user remove', 'host init', 'dns sync'] as const;
export type RaptorAction = (typeof RAPTOR_ACTIONS)[number];

/**
 * What a vm-user needs beyond their domains: open qemu:///system (the read-write socket), and the
 * connection-level calls `virsh list` and `dominfo` make (`connect.read` is virNodeGetSecurityModel,
 * which dominfo calls); `search-domains` lists only the domains whose `domain.getattr` polkit
 * allows, so each user sees their own.
 */
const VM_USER_CONNECT = [
  'org.libvirt.unix.manage',
  'org.libvirt.unix.monitor',
  'org.libvirt.api.connect.getattr',
  'org.libvirt.api.connect.read',
  'org.libvirt.api.connect.search-domains',
] as const;

/** libvirt's other connection-level permissions (`org.libvirt.api.connect.<perm>`): admins only. */
const ADMIN_CONNECT = ['write', 'search-networks', 'search-storage-pools', 'search-node-devices', 'search-interfaces', 'search-secrets', 'search-nwfilters', 'search-nwfilter-bindings', 'detect-storage-pools', 'pm-control', 'interface-transaction'] as const;

/** What the owner may do on their own domain (libvirt ACL permissions, `org.libvirt.api.domain.<perm>`). */
const OWNER_DOMAIN = ['getattr', 'read', 'start', 'stop', 'init-control', 'reset', 'open-device'] as const;

/** libvirt's other domain permissions: admins only, on every domain. */
const ADMIN_DOMAIN = [
  'read-secure', 'write', 'save', 'delete', 'hibernate', 'core-dump', 'migrate', 'inject-nmi', 'send-input', 'send-signal', 'fs-trim', 'fs-freeze',
  'block-read', 'block-write', 'mem-read', 'open-graphics', 'screenshot', 'open-namespace', 'set-time', 'set-password', 'snapshot', 'suspend', 'pm-control',
] as const;

export const DOMAIN_PREFIX = 'org.libvirt.api.domain.';
const CONNECT_PREFIX = 'org.libvirt.api.connect.';

export type ActionKind = 'raptor' | 'libvirt-connect' | 'libvirt-domain';

export interface Permission {
  action: string;
  kind: ActionKind;
  allow: readonly Role[];
}

const ADMIN: readonly Role[] = ['admin'];
const VM_USERS: readonly Role[] = ['admin', 'owner', 'other-user'];
const OWNERS: readonly Role[] = ['admin', 'owner'];

/** The table: every action raptor decides or grants, with the roles allowed it. */
export const PERMISSIONS: readonly Permission[] = [
  ...RAPTOR_ACTIONS.map((action) => ({ action, kind: 'raptor' as const, allow: ADMIN })),
  ...VM_USER_CONNECT.map((action) => ({ action, kind: 'libvirt-connect' as const, allow: VM_USERS })),
  ...ADMIN_CONNECT.map((p) => ({ action: `${CONNECT_PREFIX}${p}`, kind: 'libvirt-connect' as const, allow: ADMIN })),
  ...OWNER_DOMAIN.map((p) => ({ action: `${DOMAIN_PREFIX}${p}`, kind: 'libvirt-domain' as const, allow: OWNERS })),
  ...ADMIN_DOMAIN.map((p) => ({ action: `${DOMAIN_PREFIX}${p}`, kind: 'libvirt-domain' as const, allow: ADMIN })),
];

const BY_ACTION = new Map(PERMISSIONS.map((p) => [p.action, p]));

/**
 * May this role do this action? A libvirt action the table does not name (networks, pools, node
 * devices, …) is an admin's; anything else is not an action raptor knows.
 */
export function allows(role: Role, action: string): boolean {
  const p = BY_ACTION.get(action);
  if (p) return p.allow.includes(role);
  if (action.startsWith('org.libvirt.')) return role === 'admin';
  throw new Error(`no such action in the permission table: ${action}`);
}

export const isRaptorAction = (action: string): action is RaptorAction => (RAPTOR_ACTIONS as readonly string[]).includes(action);

export interface RoleInput {
  admin_groups: string[];
  user_group: string;
}

/**
 * The actor's role towards a VM (a domain name, or none: a vm-user then owns nothing). Root and
 * admin groups first, as the rules judge them; user names hold no "-", so `alice-` never names bob's.
 */
export function roleOf(actor: Pick<Actor, 'user' | 'uid' | 'groups'>, access: RoleInput, domain?: string): Role {
  if (actor.uid === 0 || access.admin_groups.some((g) => actor.groups.includes(g))) return 'admin';
  if (!actor.groups.includes(access.user_group)) return 'outsider';
  return domain !== undefined && domain.startsWith(`${actor.user}-`) ? 'owner' : 'other-user';
}

/** The table's libvirt actions of one kind that vm-users get: what the rendered rules list. */
export function grantedToVmUsers(kind: 'libvirt-connect' | 'libvirt-domain'): string[] {
  return PERMISSIONS.filter((p) => p.kind === kind && p.allow.includes('owner')).map((p) => p.action);
}
