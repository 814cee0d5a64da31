#!/bin/sh
# /udhcpc-script of raptor's demo guest: busybox udhcpc runs it with the event as $1 and the lease
# in the environment ($interface $ip $mask $router $subnet). Configures the address and reports
# it on the consoles as "raptor-guest: dhcp ipv4=ADDR prefix=N mac=MAC".
# shellcheck disable=SC2154 # interface, ip, mask, router come from udhcpc

say() {
  for d in /dev/hvc0 /dev/ttyS0; do
    [ -c "$d" ] && printf 'raptor-guest: %s\n' "$*" >"$d" 2>/dev/null
  done
  return 0
}

mac=$(cat "/sys/class/net/$interface/address" 2>/dev/null)
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface" 2>/dev/null
    ip link set "$interface" up
    ;;
  bound | renew)
    old=$(cat /run/dhcp-bound 2>/dev/null)
    if [ "$old" != "$ip/$mask" ]; then
      ip -4 addr flush dev "$interface" 2>/dev/null
      ip addr add "$ip/$mask" dev "$interface"
      if [ -n "$router" ]; then
        for r in $router; do ip route add default via "$r" dev "$interface" 2>/dev/null && break; done
      fi
      echo "$ip/$mask" >/run/dhcp-bound
      say "dhcp ipv4=$ip prefix=$mask mac=$mac"
    fi
    ;;
  leasefail | nak)
    say "dhcp $1 iface=$interface mac=$mac"
    ;;
esac
exit 0
