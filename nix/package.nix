# raptor as a Nix package: the prebuilt bundle (dist/, made by `npm ci && npm run build`), run by
# Node, with every tool raptor runs on its PATH. The bundle is one esbuild build with no native
# addons, so nothing is compiled or fetched here: the lockfile records no download addresses, and
# building from source would need the npm registry inside the Nix build.
{
  lib,
  stdenvNoCC,
  makeWrapper,
  nodejs,
  libvirt,
  lvm2,
  util-linux,
  qemu-utils,
  shadow,
  coreutils,
  getent,
  dosfstools,
  mtools,
  xorriso,
  # the directory scripts/build.mjs writes: raptor.mjs and its chunks
  bundle ? ../dist,
}:

let
  packageJson = lib.importJSON ../package.json;
  # virsh; lvm; blkdiscard and flock; qemu-img; useradd/usermod/groupadd; dd and id; getent;
  # the NoCloud seed (a FAT image written with mtools, or an ISO with xorriso)
  runtimePath = [
    libvirt
    lvm2
    util-linux
    qemu-utils
    shadow
    coreutils
    getent
    dosfstools
    mtools
    xorriso
  ];
in
assert lib.assertMsg (builtins.pathExists (bundle + "/raptor.mjs"))
  "raptor: ${toString bundle}/raptor.mjs is missing: run `npm ci && npm run build` in the raptor checkout first (or pass bundle = <dist directory>)";
stdenvNoCC.mkDerivation {
  pname = "raptor";
  version = packageJson.version;
  src = bundle;
  nativeBuildInputs = [ makeWrapper ];
  dontConfigure = true;
  dontBuild = true;
  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/raptor $out/bin
    cp -r ./. $out/lib/raptor/
    makeWrapper ${nodejs}/bin/node $out/bin/raptor \
      --add-flags $out/lib/raptor/raptor.mjs \
      --prefix PATH : ${lib.makeBinPath runtimePath}
    runHook postInstall
  '';
  passthru = { inherit runtimePath; };
  meta = {
    description = packageJson.description;
    license = lib.licenses.mit;
    mainProgram = "raptor";
    platforms = lib.platforms.linux;
  };
}
