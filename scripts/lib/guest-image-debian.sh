#!/bin/bash
# scripts/guest-image debian [--out PATH] [--force] — a Debian 12 cloud guest, built from Debian's
# packages with mmdebstrap, as a raw GPT disk that boots under UEFI Secure Boot:
#   p1 ESP (FAT16)  EFI/BOOT/BOOTX64.EFI = shimx64.efi.signed, EFI/BOOT/grubx64.efi =
#                   grubx64.efi.signed, grub.cfg in EFI/debian (signed grub's prefix) and EFI/BOOT
#   p2 root (ext4)  linux-image-cloud-amd64 (signed), cloud-init (NoCloud, None), openssh-server,
#                   ifupdown + DHCP on the first NIC, a getty and console=hvc0 on the VirtIO console
# No loop devices, no mounts of the image: mkfs.ext4 -d, mkfs.vfat + mtools, sgdisk, dd.
# See docs/guest-image.md. Cached: rebuilt only when this recipe changed (PATH.recipe) or --force.
# Progress goes to stderr; the image path is the last line of stdout.
set -euo pipefail

OUT=/var/cache/raptor/guest-images/debian-12.raw
FORCE=0
SUITE=bookworm
PACKAGES=(linux-image-cloud-amd64 systemd-sysv udev dbus cloud-init openssh-server sudo
  ifupdown isc-dhcp-client netbase shim-signed grub-efi-amd64-signed e2fsprogs cloud-guest-utils)
# Host tools: package → command.
declare -A TOOLS=([mmdebstrap]=mmdebstrap [gdisk]=sgdisk [mtools]=mcopy [dosfstools]=mkfs.vfat [e2fsprogs]=mkfs.ext4)
ESP_MIB=32
# ~480 MiB of files; cloud-init's growpart grows the root to the VM's disk at first boot.
ROOT_MIB=880

log() { printf 'guest-image: %s\n' "$*" >&2; }
die() {
  printf 'guest-image: error: %s\n' "$*" >&2
  exit 1
}
while (($#)); do
  case $1 in
    --out) (($# >= 2)) || die "--out needs a path"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#--out=}; shift ;;
    --force) FORCE=1; shift ;;
    -h | --help) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
done
[[ $OUT == /* ]] || OUT=$PWD/$OUT

RECIPE=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
is_current() { [[ -s $OUT && -f $OUT.recipe ]] && [[ $(head -n1 "$OUT.recipe") == "recipe $RECIPE" ]]; }
mkdir -p "$(dirname "$OUT")"
if ((!FORCE)) && is_current; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi
(($(id -u) == 0)) || die "building the Debian guest needs root (mmdebstrap, file ownership in the image)"
# The lock lives in a directory only root can enter: anyone who can open a lock file can hold it.
LOCKS="$(dirname "$OUT")/.locks"
install -d -m 0700 -o root -g root "$LOCKS" 2>/dev/null || mkdir -p -m 0700 "$LOCKS"
chmod 0700 "$LOCKS"
exec 9>"$LOCKS/$(basename "$OUT").lock"
flock 9
if ((!FORCE)) && is_current; then
  log "cached (built by another run meanwhile): $OUT"
  echo "$OUT"
  exit 0
fi

T0=$(date +%s%N)
elapsed() {
  local ms=$((($(date +%s%N) - T0) / 1000000))
  printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

missing=()
for p in "${!TOOLS[@]}"; do command -v "${TOOLS[$p]}" >/dev/null || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi

# IDs derived from the recipe: one recipe, one image, byte for byte the same partition table.
h=$RECIPE
mkuuid() { printf '%s-%s-4%s-8%s-%s' "${h:$1:8}" "${h:$(($1 + 8)):4}" "${h:$(($1 + 13)):3}" "${h:$(($1 + 17)):3}" "${h:$(($1 + 20)):12}"; }
DISK_GUID=$(mkuuid 0)
ESP_PARTUUID=$(mkuuid 32)
ROOT_PARTUUID=$(mkuuid 8)
ROOT_FSUUID=$(mkuuid 16)
ESP_VOLID=${h:40:8}
CMDLINE="root=PARTUUID=$ROOT_PARTUUID ro console=hvc0"

WORK=$(mktemp -d "$(dirname "$OUT")/.debian-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root

# ---------------------------------------------------------------- the root tree (mmdebstrap)
# Configuration happens in a customize hook: it runs in the finished chroot with /proc, /sys and
# /dev mounted by mmdebstrap, so update-initramfs works, and nothing of the build host leaks in.
cat >"$WORK/customize.sh" <<EOF
#!/bin/sh
set -eu
R=\$1
# virtio_console in the initramfs: hvc0 exists before the root is mounted. gzip: zstd is not in
# the image. (MODULES=most already carries virtio_pci, virtio_blk and virtio_net.)
printf '%s\n' virtio_pci virtio_blk virtio_net virtio_console >>"\$R/etc/initramfs-tools/modules"
echo COMPRESS=gzip >"\$R/etc/initramfs-tools/conf.d/raptor.conf"
cat >"\$R/etc/fstab" <<FSTAB
PARTUUID=$ROOT_PARTUUID  /          ext4  defaults,errors=remount-ro  0 1
PARTUUID=$ESP_PARTUUID  /boot/efi  vfat  umask=0077,nofail           0 2
FSTAB
mkdir -p "\$R/boot/efi"
# cloud-init: the NoCloud seed (CIDATA) only, never a metadata service on the network; C.UTF-8
# so cc_locale has nothing to generate; one ed25519 host key (each RSA key costs seconds on TCG);
# no grub-dpkg (grub is not managed by dpkg here) and no key fingerprints on the console.
cat >"\$R/etc/cloud/cloud.cfg.d/90-raptor.cfg" <<CFG
datasource_list: [NoCloud, None]
locale: C.UTF-8
ssh_genkeytypes: [ed25519]
grub_dpkg: {enabled: false}
ssh: {emit_keys_to_console: false}
CFG
echo LANG=C.UTF-8 >"\$R/etc/default/locale"
echo 'HostKey /etc/ssh/ssh_host_ed25519_key' >"\$R/etc/ssh/sshd_config.d/10-raptor-hostkey.conf"
# A getty on the VirtIO console; none on tty1 (raptor VMs have no display).
mkdir -p "\$R/etc/systemd/system/getty.target.wants"
ln -sf /lib/systemd/system/serial-getty@.service "\$R/etc/systemd/system/getty.target.wants/serial-getty@hvc0.service"
rm -f "\$R/etc/systemd/system/getty.target.wants/getty@tty1.service"
# No identity baked in: host keys (cloud-init makes them), machine-id (systemd makes it from the
# VM's UUID), hostname (from the seed), the build host's resolver; no apt lists or archives.
rm -f "\$R"/etc/ssh/ssh_host_* "\$R/etc/hostname" "\$R/var/lib/dbus/machine-id" "\$R/etc/resolv.conf"
: >"\$R/etc/machine-id"
rm -rf "\$R"/var/lib/apt/lists/* "\$R"/var/cache/apt/*.bin "\$R"/var/cache/apt/archives/*.deb
chroot "\$R" update-initramfs -u -k all >/dev/null
EOF
chmod 0755 "$WORK/customize.sh"

log "mmdebstrap $SUITE: ${PACKAGES[*]}"
includes=$(IFS=,; echo "${PACKAGES[*]}")
mmdebstrap --quiet --variant=apt --include="$includes" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook="$WORK/customize.sh \"\$1\"" \
  "$SUITE" "$ROOT" >&2
# mmdebstrap's own last step writes the host's resolv.conf and hostname back: remove them again.
rm -f "$ROOT/etc/resolv.conf" "$ROOT/etc/hostname"
log "root tree in $(elapsed) s ($(du -sm "$ROOT" | cut -f1) MiB)"

KVER=$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n1)
[[ -f $ROOT/boot/vmlinuz-$KVER && -f $ROOT/boot/initrd.img-$KVER ]] || die "no kernel/initrd for $KVER"
# /vmlinuz and /initrd.img follow kernel upgrades inside the guest; grub reads them from the root.
KERNEL=/boot/vmlinuz-$KVER INITRD=/boot/initrd.img-$KVER
[[ -L $ROOT/vmlinuz && -L $ROOT/initrd.img ]] && KERNEL=/vmlinuz INITRD=/initrd.img
versions=$(chroot "$ROOT" dpkg-query -W -f='package ${Package} ${Version}\n' "${PACKAGES[@]}" "linux-image-$KVER")

# ---------------------------------------------------------------- grub: ESP stub → root's grub.cfg
mkdir -p "$ROOT/boot/grub"
cat >"$ROOT/boot/grub/grub.cfg" <<EOF
set timeout=0
linux $KERNEL $CMDLINE
initrd $INITRD
boot
EOF
cat >"$WORK/grub-stub.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $ROOT_FSUUID
set prefix=(\$root)/boot/grub
configfile \$prefix/grub.cfg
EOF

SHIM=$ROOT/usr/lib/shim/shimx64.efi.signed
GRUB=$ROOT/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
for f in "$SHIM" "$GRUB"; do [[ -f $f ]] || die "$f not in the packages"; done
prefix=$(grep -a -o -m1 '/EFI/[A-Za-z0-9_-]*' "$GRUB" | head -n1)
[[ -n $prefix ]] || die "cannot find the prefix embedded in $GRUB"

export MTOOLS_SKIP_CHECK=1
mkfs.vfat -C -F 16 -n ESP -i "$ESP_VOLID" "$WORK/esp.img" $((ESP_MIB * 1024)) >/dev/null
mmd -i "$WORK/esp.img" ::/EFI ::/EFI/BOOT "::$prefix"
mcopy -i "$WORK/esp.img" "$SHIM" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$WORK/esp.img" "$GRUB" ::/EFI/BOOT/grubx64.efi
mcopy -i "$WORK/esp.img" "$WORK/grub-stub.cfg" "::$prefix/grub.cfg"
mcopy -i "$WORK/esp.img" "$WORK/grub-stub.cfg" ::/EFI/BOOT/grub.cfg

mkfs.ext4 -q -F -L root -U "$ROOT_FSUUID" -E root_owner=0:0 -d "$ROOT" "$WORK/root.img" "${ROOT_MIB}M"
log "filesystems in $(elapsed) s"

# ---------------------------------------------------------------- GPT disk
truncate -s $(((1 + ESP_MIB + ROOT_MIB + 1) * 1048576)) "$WORK/disk.img"
sgdisk -U "$DISK_GUID" \
  -n "1:2048:+${ESP_MIB}M" -t 1:ef00 -c "1:EFI System Partition" -u "1:$ESP_PARTUUID" \
  -n "2:0:+${ROOT_MIB}M" -t 2:8304 -c 2:root -u "2:$ROOT_PARTUUID" "$WORK/disk.img" >/dev/null
sgdisk -v "$WORK/disk.img" >/dev/null || die "sgdisk -v: the GPT does not verify"
dd if="$WORK/esp.img" of="$WORK/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/root.img" of="$WORK/disk.img" bs=1M seek=$((1 + ESP_MIB)) conv=notrunc,sparse status=none

mv -f "$WORK/disk.img" "$OUT"
{
  echo "recipe $RECIPE"
  echo "kernel $KVER"
  echo "cmdline $CMDLINE"
  printf '%s\n' "$versions"
} >"$OUT.recipe"
log "built $OUT ($(($(stat -c %s "$OUT") / 1048576)) MiB, $(($(du -k "$OUT" | cut -f1) / 1024)) MiB allocated) in $(elapsed) s"
echo "$OUT"
