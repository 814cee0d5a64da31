// The polkit rules that make the house access rule (docs/house-rules.md) hold inside libvirt. Pure: config in, text out.
// The output is ES5 for polkit's JavaScript engine (duktape or mozjs): no let/const, arrows or
// template literals, and self-contained, so it can also be pasted into NixOS's
// `security.polkit.extraConfig`. Who may do what comes from the permission table (permissions.ts).
import { DOMAIN_PREFIX, grantedToVmUsers, PERMISSIONS } from './permissions.ts';

/** What a vm-user may do on a domain named `{user}-*` (libvirt ACL permissions, `org.libvirt.api.domain.<perm>`), from the permission table. */
export const INTERACT_PERMISSIONS: readonly string[] = grantedToVmUsers('libvirt-domain').map((a) => a.slice(DOMAIN_PREFIX.length));

/** The connection-level actions vm-users get, from the permission table; every other one is NO. */
export const CONNECT_ACTIONS: readonly string[] = grantedToVmUsers('libvirt-connect');

/**
 * The rules have one shape: admins everything, vm-users the listed connect actions and the listed
 * actions on their own domains, everyone else nothing. A table this shape cannot say is a bug.
 */
function assertRenderable(): void {
  for (const p of PERMISSIONS) {
    if (p.kind === 'raptor') continue;
    const bad =
      !p.allow.includes('admin') ? 'admins must get every libvirt action' :
      p.allow.includes('outsider') ? 'outsiders get no libvirt action' :
      p.kind === 'libvirt-domain' && p.allow.includes('other-user') ? "vm-users get nothing on others' domains" :
      p.kind === 'libvirt-connect' && p.allow.includes('owner') !== p.allow.includes('other-user') ? 'a connection-level action is the same for every vm-user' : '';
    if (bad) throw new Error(`the permission table cannot be rendered as polkit rules: ${p.action}: ${bad}`);
  }
}

export interface RulesInput {
  admin_groups: string[];
  user_group: string;
}

const js = (s: string): string => JSON.stringify(s);
const jsList = (xs: readonly string[]): string => `[${xs.map(js).join(', ')}]`;

/** The rules file, byte for byte (so a rerun of `host init` can tell "current" by comparing). */
export function renderPolkitRules(access: RulesInput): string {
  assertRenderable();
  return `// raptor: who may do what in libvirt (written by \`raptor host init\`; edits are overwritten).
// - root and members of ${access.admin_groups.join(', ')}: everything.
// - members of ${access.user_group}: connect, and on their own {user}-* domains only:
//   ${INTERACT_PERMISSIONS.join(', ')}. Everything else is NO.
// - anyone else: NO for every libvirt action (connecting, domains, networks, node devices,
//   interfaces, secrets, pools, nwfilters, ...): libvirt's defaults let anyone read a lot.
// Actions that are not libvirt's are NOT_HANDLED.
polkit.addRule(function (action, subject) {
    var ADMIN_GROUPS = ${jsList(access.admin_groups)};
    var USER_GROUP = ${js(access.user_group)};
    var CONNECT = ${jsList(CONNECT_ACTIONS)};
    var INTERACT = ${jsList(INTERACT_PERMISSIONS)};
    var DOMAIN = "org.libvirt.api.domain.";
    var i, name, perm;

    if (action.id.indexOf("org.libvirt.") !== 0) {
        return polkit.Result.NOT_HANDLED;
    }
    if (subject.user === "root") {
        return polkit.Result.YES;
    }
    for (i = 0; i < ADMIN_GROUPS.length; i++) {
        if (subject.isInGroup(ADMIN_GROUPS[i])) {
            return polkit.Result.YES;
        }
    }
    if (subject.isInGroup(USER_GROUP)) {
        if (CONNECT.indexOf(action.id) >= 0) {
            return polkit.Result.YES;
        }
        if (action.id.indexOf(DOMAIN) === 0) {
            name = action.lookup("domain_name");
            perm = action.id.substring(DOMAIN.length);
            // user names hold no "-", so "alice-" never matches another user's domains
            if (typeof name === "string" && name.indexOf(subject.user + "-") === 0 && INTERACT.indexOf(perm) >= 0) {
                return polkit.Result.YES;
            }
        }
        return polkit.Result.NO;
    }
    // neither admin nor vm-user: nothing of libvirt (its defaults allow read-only connections and
    // reading networks, node devices, interfaces, secrets' metadata, capabilities)
    return polkit.Result.NO;
});
`;
}
