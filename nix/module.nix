# services.raptor: raptor on a NixOS libvirt host. Imports: add this file to `imports`.
# What raptor's own `host init` does on other hosts, declared here: the config file, the polkit rules
# (rendered by the package's own raptor, so they are byte for byte what `host init` writes), libvirt's
# polkit access driver, the vm-users group, libvirtd's confinement, and a daily `raptor vm reap`.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.raptor;
  settingsFormat = pkgs.formats.toml { };

  # raptor's config schema as data (generated from src/core/config.ts; a test keeps it current)
  schema = lib.importJSON ./settings-options.json;

  nixType =
    node:
    if node.type == "str" then
      lib.types.str
    else if node.type == "int" then
      lib.types.int
    else if node.type == "bool" then
      lib.types.bool
    else if node.type == "enum" then
      lib.types.enum node.values
    else if node.type == "list" then
      lib.types.listOf (nixType node.of)
    else if node.type == "attrs" then
      lib.types.attrsOf (nixType node.of)
    else
      lib.types.submodule { options = lib.mapAttrs (_: mkSetting) node.options; };

  # every key may be left out (null): raptor applies its own default; required ones (a bridge's name) may not
  mkSetting =
    node:
    if node.required or false then
      lib.mkOption { type = nixType node; }
    else
      lib.mkOption {
        type = lib.types.nullOr (nixType node);
        default = null;
      };

  # drop the keys left out (and the module system's own _module), so raptor.toml holds only what was set
  prune =
    value:
    if builtins.isAttrs value then
      lib.mapAttrs (_: prune) (lib.filterAttrs (n: v: v != null && n != "_module") value)
    else if builtins.isList value then
      map prune value
    else
      value;

  # what the module itself decides, beside the admin's settings
  effectiveSettings = lib.recursiveUpdate (prune cfg.settings) (
    {
      access = {
        declarative_users = !config.users.mutableUsers;
      };
    }
    // lib.optionalAttrs (cfg.dns.tsigKeyFile != null) { dns.tsig_key_file = cfg.dns.tsigKeyFile; }
  );

  configFile = settingsFormat.generate "raptor.toml" effectiveSettings;

  # the file raptor reads, after raptor itself accepted it: a wrong value fails the build, not a command
  checkedConfig = pkgs.runCommand "raptor.toml" { passthru = { inherit configFile; settings = effectiveSettings; }; } ''
    ${cfg.package}/bin/raptor --config ${configFile} config show > /dev/null
    cp ${configFile} $out
  '';

  polkitRules = pkgs.runCommand "60-raptor.rules" { } ''
    ${cfg.package}/bin/raptor --config ${configFile} config polkit-rules > $out
  '';

  userGroup = effectiveSettings.access.user_group or "vm-users";
  rulesFile = effectiveSettings.access.polkit_rules_file or "/etc/polkit-1/rules.d/60-raptor.rules";

  # a path outside the store: the store is world-readable, the TSIG key must not be
  outsideStore = lib.types.addCheck lib.types.str (
    p: lib.hasPrefix "/" p && !(lib.hasPrefix "${builtins.storeDir}/" p) && p != builtins.storeDir
  );

  confinement = lib.importJSON ./libvirtd-confinement.json;
in
{
  options.services.raptor = {
    enable = lib.mkEnableOption "raptor, which provisions VMs on this libvirt host by the house rules";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { libvirt = config.virtualisation.libvirtd.package; };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { libvirt = config.virtualisation.libvirtd.package; }";
      description = "The raptor package (its virsh comes from the libvirt the host runs).";
    };

    settings = lib.mkOption {
      type = lib.types.submodule { options = lib.mapAttrs (_: mkSetting) schema.options; };
      default = { };
      description = ''
        raptor's configuration, written to /etc/raptor/raptor.toml. Keys and types are raptor's own
        (a misspelt key is an evaluation error); keys left out take raptor's built-in defaults.
      '';
    };

    dns.tsigKeyFile = lib.mkOption {
      type = lib.types.nullOr outsideStore;
      default = null;
      example = "/etc/raptor/tsig.key";
      description = ''
        The TSIG key file for DNS updates (dns.tsig_key_file). An absolute path outside the Nix
        store, given as a string: a path literal would copy the key into the world-readable store.
      '';
    };

    restartLibvirtd = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Restart libvirtd when nixos-rebuild switch changes its config or its confinement. NixOS does
        not restart libvirtd by itself, so without this a changed access_drivers or confinement takes
        effect only at the next `systemctl restart libvirtd` (running guests keep running either way);
        `raptor host check` says when libvirtd started before its config file last changed.
      '';
    };

    serve.enable = lib.mkEnableOption "`raptor serve`, the web API and page, on settings.web.listen (127.0.0.1:8470 unless set; TLS is a reverse proxy's)";

    reap = {
      enable = lib.mkEnableOption "a daily `raptor vm reap`, which destroys the VMs whose expiry date has passed";
      onCalendar = lib.mkOption {
        type = lib.types.str;
        default = "daily";
        description = "When the reap runs (systemd calendar event).";
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = config.virtualisation.libvirtd.enable;
        message = "services.raptor needs virtualisation.libvirtd.enable = true";
      }
      {
        # settings.dns.tsig_key_file is a plain string: the same rule as dns.tsigKeyFile
        assertion = !(lib.hasPrefix "${builtins.storeDir}/" (effectiveSettings.dns.tsig_key_file or ""));
        message = "services.raptor: the TSIG key must not be in the world-readable Nix store (use dns.tsigKeyFile with a path outside it)";
      }
      {
        assertion = rulesFile == "/etc/polkit-1/rules.d/60-raptor.rules";
        message = "services.raptor installs its polkit rules as /etc/polkit-1/rules.d/60-raptor.rules; leave settings.access.polkit_rules_file unset";
      }
    ];

    environment.systemPackages = [ cfg.package ];
    environment.etc."raptor/raptor.toml".source = checkedConfig;
    environment.etc."polkit-1/rules.d/60-raptor.rules".source = polkitRules;

    security.polkit.enable = true;
    users.groups.${userGroup} = { };

    virtualisation.libvirtd.extraConfig = ''
      access_drivers = [ "polkit" ]
    '';
    systemd.tmpfiles.rules = [
      "d /run/raptor 0755 root root -"
      "d /var/log/raptor 0750 root root -"
    ];

    systemd.services = {
      libvirtd = {
        # libvirtd opens some client-named paths before its ACL check: give it no view of user-writable places
        serviceConfig = confinement;
      }
      // lib.optionalAttrs cfg.restartLibvirtd {
        restartIfChanged = lib.mkForce true;
        restartTriggers = [
          config.virtualisation.libvirtd.extraConfig
          (builtins.toJSON confinement)
        ];
      };
    }
    // lib.optionalAttrs cfg.reap.enable {
      raptor-reap = {
        description = "raptor: destroy the VMs whose expiry date has passed";
        after = [ "libvirtd.service" ];
        requires = [ "libvirtd.service" ];
        restartIfChanged = false;
        serviceConfig = {
          Type = "oneshot";
          # --yes: destroy asks for confirmation on a terminal, and a timer has none
          ExecStart = "${cfg.package}/bin/raptor --yes vm reap";
        };
      };
    }
    // lib.optionalAttrs cfg.serve.enable {
      raptor-serve = {
        description = "raptor: the web API and page";
        after = [ "network.target" "libvirtd.service" ];
        wants = [ "libvirtd.service" ];
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          # root: it creates VMs for admins and acts as each signed-in user (setpriv) for the rest
          ExecStart = "${cfg.package}/bin/raptor serve";
          Restart = "on-failure";
          # the hashed sessions and tokens (web.state_dir's default)
          StateDirectory = "raptor/web";
          StateDirectoryMode = "0700";
          UMask = "0077";
          NoNewPrivileges = true;
        };
      };
    };
    systemd.timers = lib.optionalAttrs cfg.reap.enable {
      raptor-reap = {
        description = "raptor: daily reap of expired VMs";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = cfg.reap.onCalendar;
          Persistent = true;
        };
      };
    };
  };
}
