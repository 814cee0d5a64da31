#!/bin/busybox sh
# shellcheck shell=dash # busybox ash; shellcheck checks it as dash
# /init of raptor's demo guest (built by scripts/guest-image; see docs/guest-image.md).
#
# Runs as PID 1 from a busybox initramfs. Everything it reports goes to the VirtIO console
# (/dev/hvc0) and to the first serial port (/dev/ttyS0) when there is one, as lines that start
# with "raptor-guest: " so that a script can wait for them with a regex:
#
#   raptor-guest: init uptime=S
#   raptor-guest: secureboot=enabled|disabled|unknown   (from the SecureBoot EFI variable)
#   raptor-guest: kernel secureboot: Secure boot enabled (the kernel's own line, from dmesg)
#   raptor-guest: lockdown=none|integrity|confidentiality|unknown
#   raptor-guest: dhcp ipv4=ADDR prefix=N mac=MAC         (printed by /udhcpc-script on a lease)
#   raptor-guest: dhcp none reason=...                   (no NIC, or no lease yet)
#   raptor-guest: uptime=S
#   raptor-guest: ready
#   raptor-guest: poweroff (acpi power button)           (later, on an ACPI shutdown request)
#
# Then it stays up: udhcpc keeps renewing the lease in the background, a shell is respawned on
# /dev/hvc0 for whoever attaches to the console, and busybox acpid powers the machine off when the
# ACPI power button is pressed (virsh shutdown, qemu's system_powerdown).

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /run /tmp /var/run
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts 2>/dev/null

# say LINE...: one line on every console we can reach (not on stdout: /dev/console is one of them).
say() {
  local d wrote=0
  for d in /dev/hvc0 /dev/ttyS0; do
    if [ -c "$d" ] && printf 'raptor-guest: %s\n' "$*" >"$d" 2>/dev/null; then wrote=1; fi
  done
  [ "$wrote" = 1 ] || printf 'raptor-guest: %s\n' "$*" >/dev/console 2>/dev/null
  return 0
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# Modules, in dependency order (written by scripts/guest-image). A module that is already loaded
# or built in is fine; anything else is reported but not fatal.
if [ -f /etc/modules.order ]; then
  while read -r ko; do
    [ -n "$ko" ] || continue
    out=$(insmod "/lib/modules/$ko" 2>&1) || case "$out" in
      *"File exists"*) ;;
      *) echo "raptor-guest: insmod $ko failed: $out" >/dev/console 2>/dev/null ;;
    esac
  done </etc/modules.order
fi

# The VirtIO console appears when virtio_console has probed its device; give it a moment.
i=0
while [ ! -c /dev/hvc0 ] && [ "$i" -lt 30 ]; do sleep 0.1; i=$((i + 1)); done

say "init uptime=$(uptime_s)"

# Secure Boot as the firmware reports it: efivarfs gives 4 bytes of attributes, then the value.
sb=unknown
if [ -d /sys/firmware/efi ]; then
  mountpoint -q /sys/firmware/efi/efivars || mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
  var=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
  if [ -r "$var" ]; then
    # (no od -j: efivarfs files can't be skipped into; read all 5 bytes and take the last)
    v=$(od -An -tu1 "$var" 2>/dev/null | tr -s ' \n' '  ')
    v=${v% }
    v=${v##* }
    case "$v" in 1) sb=enabled ;; 0) sb=disabled ;; esac
  fi
else
  sb=disabled-no-efi
fi
say "secureboot=$sb"

# The kernel's own verdict ("secureboot: Secure boot enabled"), without the timestamp.
dmesg 2>/dev/null | grep -i 'secureboot:' | sed 's/^\[[^]]*\] *//' | while read -r line; do
  say "kernel $line"
done

lockdown=unknown
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
if [ -r /sys/kernel/security/lockdown ]; then
  lockdown=$(sed -n 's/.*\[\([a-z]*\)\].*/\1/p' /sys/kernel/security/lockdown)
fi
say "lockdown=${lockdown:-unknown}"

# Network: the first non-loopback interface (eth0 with virtio_net), DHCP with busybox udhcpc.
ip link set lo up 2>/dev/null
nic=
i=0
while [ "$i" -lt 30 ]; do
  for n in /sys/class/net/*; do
    n=${n##*/}
    case "$n" in lo | '*') ;; *) nic=$n; break ;; esac
  done
  [ -n "$nic" ] && break
  sleep 0.1
  i=$((i + 1))
done
if [ -z "$nic" ]; then
  say "dhcp none reason=no-nic"
else
  ip link set "$nic" up
  # Blocks until the first lease (then keeps renewing in the background); -b: if 5 tries of 2 s
  # get nothing, go to the background anyway and keep trying (the script prints the address
  # whenever a lease comes).
  if ! udhcpc -i "$nic" -s /udhcpc-script -t 5 -T 2 -A 3 -b -p /run/udhcpc.pid >/dev/null 2>&1; then
    say "dhcp none reason=udhcpc-failed"
  elif [ ! -f /run/dhcp-bound ]; then
    say "dhcp none reason=no-lease-yet"
  fi
fi

# ACPI shutdown: the button module turns the power button into an input device (KEY_POWER on
# /dev/input/eventN, through evdev); busybox acpid, with its built-in tables (no /etc/acpid.conf,
# no /etc/acpi.map), maps KEY_POWER to "PWRF/00000080" and runs /etc/acpi/PWRF/00000080.
# acpid opens the event devices that exist when it starts, so it starts after the modules.
if [ -c /dev/input/event0 ]; then
  mkdir -p /etc/acpi/PWRF
  cat >/etc/acpi/PWRF/00000080 <<'EOF'
#!/bin/busybox sh
# (a newline first: the console shell's prompt is usually sitting on hvc0's current line)
for d in /dev/hvc0 /dev/ttyS0; do
  [ -c "$d" ] && printf '\nraptor-guest: poweroff (acpi power button)\n' >"$d" 2>/dev/null
done
exec /bin/busybox poweroff -f
EOF
  chmod 0755 /etc/acpi/PWRF/00000080
  acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid || say "acpid failed"
else
  say "acpid none reason=no-input-device"
fi

say "uptime=$(uptime_s)"
say "ready"

# Stay up. A shell on the VirtIO console for whoever attaches (sleep: don't spin if it exits).
if [ -c /dev/hvc0 ]; then
  (
    while :; do
      setsid sh -c 'exec sh </dev/hvc0 >/dev/hvc0 2>&1' 2>/dev/null
      sleep 2
    done
  ) &
fi
while :; do sleep 3600; done
