# Evaluate nix/module.nix the way NixOS would, against the stand-ins, for one host configuration
# (JSON: services.raptor, users.mutableUsers, virtualisation.libvirtd.enable). Prints what the module
# makes: the settings raptor.toml gets, the build commands, the units, the libvirtd settings.
{ configJson }:
let
  lib = import ./stub-lib.nix;
  pkgs = import ./stub-pkgs.nix { inherit lib; };
  host = builtins.fromJSON configJson;
  module = import ../../nix/module.nix { inherit config lib pkgs; };
  raptor = lib.evalOptions "services.raptor" module.options.services.raptor (host.services.raptor or { });
  made = lib.resolve module.config;
  config = {
    services.raptor = raptor;
    users.mutableUsers = host.users.mutableUsers or true;
    virtualisation.libvirtd = {
      enable = host.virtualisation.libvirtd.enable or true;
      package = pkgs.libvirt;
      extraConfig = made.virtualisation.libvirtd.extraConfig or "";
    };
  };
  failed = builtins.filter (a: !a.assertion) (made.assertions or [ ]);
  etc = made.environment.etc or { };
in
if !raptor.enable then { enabled = false; made = made; }
else if failed != [ ] then throw "Failed assertions:\n- ${(builtins.head failed).message}"
else {
  enabled = true;
  settings = etc."raptor/raptor.toml".source.settings;
  configFile = "${etc."raptor/raptor.toml".source.configFile}";
  checkCommand = etc."raptor/raptor.toml".source.buildCommand;
  polkitCommand = etc."polkit-1/rules.d/60-raptor.rules".source.buildCommand;
  # (not a set with outPath: JSON would print only the path)
  package = {
    inherit (raptor.package) name pname version installPhase;
    path = "${raptor.package}";
  };
  systemPackages = map (p: p.name) made.environment.systemPackages;
  libvirtdExtraConfig = made.virtualisation.libvirtd.extraConfig;
  libvirtd = made.systemd.services.libvirtd;
  reap = {
    service = made.systemd.services.raptor-reap or null;
    timer = made.systemd.timers.raptor-reap or null;
  };
  serve = made.systemd.services.raptor-serve or null;
  groups = builtins.attrNames made.users.groups;
  polkit = made.security.polkit.enable;
  tmpfiles = made.systemd.tmpfiles.rules;
}
