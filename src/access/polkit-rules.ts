// The polkit rules that make the house access rule (docs/house-rules.md) hold inside libvirt. Pure: config in, text out.
// The output is ES5 for polkit's JavaScript engine (duktape or mozjs): no let/const, arrows or
// template literals, and self-contained, so it can also be pasted into NixOS's
// `security.polkit.extraConfig`.

/** What a vm-user may do on a domain named `{user}-*` (libvirt ACL permissions, `org.libvirt.api.domain.<perm>`). */
export const INTERACT_PERMISSIONS = ['getattr', 'read', 'start', 'stop', 'init-control', 'reset', 'open-device'] as const;

/**
 * What a vm-user needs beyond their domains: open qemu:///system (the read-write socket), and the
 * connection-level calls `virsh list` and `dominfo` make (`connect.read` is virNodeGetSecurityModel,
 * which dominfo calls); `search-domains` lists only the domains whose `domain.getattr` polkit
 * allows, so each user sees their own. Every other connection-level search (networks, node
 * devices, interfaces, secrets, pools, nwfilters) is NO.
 */
export const CONNECT_ACTIONS = [
  'org.libvirt.unix.manage',
  'org.libvirt.unix.monitor',
  'org.libvirt.api.connect.getattr',
  'org.libvirt.api.connect.read',
  'org.libvirt.api.connect.search-domains',
] as const;

export interface RulesInput {
  admin_groups: string[];
  user_group: string;
}

const js = (s: string): string => JSON.stringify(s);
const jsList = (xs: readonly string[]): string => `[${xs.map(js).join(', ')}]`;

/** The rules file, byte for byte (so a rerun of `host init` can tell "current" by comparing). */
export function renderPolkitRules(access: RulesInput): string {
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
