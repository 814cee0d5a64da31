# A small stand-in for nixpkgs: fake derivations (a name and an /nix/store path, never built) and
# the few builders the module and package call, each keeping its inputs so a test can look at them.
{ lib }:
let
  fake = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; };
  self = {
    formats.toml = { }: {
      type = lib.types.submodule { options = { }; };
      generate = name: value: fake name // { inherit value; };
    };
    runCommand = name: env: buildCommand: fake name // (env.passthru or { }) // { inherit buildCommand; };
    stdenvNoCC.mkDerivation = attrs: fake "${attrs.pname}-${attrs.version}" // attrs // (attrs.passthru or { });
    callPackage = path: args:
      let f = import path;
      in f (builtins.intersectAttrs (builtins.functionArgs f) self // args);
    inherit lib;
  } // builtins.listToAttrs (map (name: { inherit name; value = fake name; }) [
    "makeWrapper" "nodejs" "libvirt" "lvm2" "util-linux" "qemu-utils" "shadow" "coreutils" "getent" "dosfstools" "mtools" "xorriso"
  ]);
in
self
