#!/bin/busybox sh
# /init of the attestation test guest (crates/cli/tests/vmguest).
#
# Brings up the network under QEMU user networking (virtio-net modules
# from the Debian kernel package, loaded in dependency order from
# /lib/modules/tc/order; static 10.0.2.15/24, gateway 10.0.2.2 which slirp
# forwards to the host's 127.0.0.1), proves it with one HTTP GET of the
# URL in /etc/tc/config (busybox nc), prints the same report as
# tests/guest/init.sh (kernel command line, PCRs, firmware event log;
# parsed by guest/report.rs), then waits for commands on the console:
#   attest   run `trustcloud agent ... --once --json` against the verifier
#            on the host; its stdout between TC-AGENT-BEGIN and
#            TC-AGENT-END, then `TC-AGENT-RC <exit status>`
#   report   print the report again
#   go       power off
# Keep the markers in sync with attest_vm_e2e.rs and guest/qemu.rs
# (`Vm::wait_for_marker`: a TC-ERROR line fails the wait at once).
/bin/busybox mkdir -p /proc /sys /dev /tmp /var/lib/tc
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/ttyS0 >/dev/ttyS0 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
mount -t tmpfs tmpfs /tmp
stty -echo 2>/dev/null
# VERIFIER_URL, HTTP_URL, AGENT_ID
. /etc/tc/config

net_up() {
  while read -r ko; do
    insmod "/lib/modules/tc/$ko" || { echo "TC-ERROR insmod $ko failed"; return 1; }
  done </lib/modules/tc/order
  # The virtio-net probe is asynchronous; wait (bounded) for eth0.
  n=0
  while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  [ -e /sys/class/net/eth0 ] || { echo "TC-ERROR no eth0 after loading virtio_net"; return 1; }
  ip link set lo up
  ip addr add 10.0.2.15/24 dev eth0
  ip link set eth0 up
  ip route add default via 10.0.2.2
  echo "TC-NET-UP $(cat /sys/class/net/eth0/address)"
}

report() {
  echo "TC-BEGIN"
  echo "TC-CMDLINE $(cat /proc/cmdline)"
  echo "TC-KERNEL $(uname -r)"
  if [ -d /sys/class/tpm/tpm0 ]; then
    echo "TC-TPM $(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)"
  else
    echo "TC-ERROR no /sys/class/tpm/tpm0: the kernel found no TPM"
  fi
  for f in /sys/class/tpm/tpm0/pcr-sha256/*; do
    [ -e "$f" ] && echo "TC-PCR sha256 ${f##*/} $(cat "$f")"
  done
  log=/sys/kernel/security/tpm0/binary_bios_measurements
  if [ -r "$log" ]; then
    echo "TC-EVENTLOG-BEGIN"
    xxd -p "$log"
    echo "TC-EVENTLOG-END"
  else
    echo "TC-ERROR no $log"
  fi
  echo "TC-END"
}

attest() {
  tpm=/dev/tpmrm0
  [ -e "$tpm" ] || tpm=/dev/tpm0
  echo "TC-AGENT-BEGIN"
  # stderr (the agent's logs) to a file: the JSON line stays alone.
  LD_LIBRARY_PATH=/lib/x86_64-linux-gnu /bin/trustcloud agent --tpm "device:$tpm" --verifier "$VERIFIER_URL" \
    --id "$AGENT_ID" --kind vm \
    --cert /etc/tc/agent.pem --key /etc/tc/agent.key --ca /etc/tc/ca.pem \
    --state-dir /var/lib/tc/agent --once --json 2>/tmp/agent.log
  rc=$?
  echo "TC-AGENT-END"
  echo "TC-AGENT-LOG-BEGIN"
  tail -n 20 /tmp/agent.log
  echo "TC-AGENT-LOG-END"
  echo "TC-AGENT-RC $rc"
}

# One HTTP GET of $HTTP_URL (http://IP:PORT/PATH) with busybox nc: the
# static busybox's wget crashed in this initramfs, and nc takes an IP
# literal without going near the resolver.
http_get() {
  hostport=${1#http://}
  path=/${hostport#*/}
  hostport=${hostport%%/*}
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" |
    nc -w 20 "${hostport%:*}" "${hostport##*:}" | tr -d '\r' | sed '1,/^$/d'
}

if net_up; then
  if [ -n "$HTTP_URL" ]; then
    echo "TC-HTTP $(http_get "$HTTP_URL" 2>&1)"
  fi
fi
report
# Bounded waits: if the host is gone, the guest still powers off.
while read -t 300 reply; do
  case "$reply" in
    attest) attest ;;
    report) report ;;
    go) break ;;
  esac
done
echo "TC-POWEROFF ${reply}"
poweroff -f
