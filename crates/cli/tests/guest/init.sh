#!/bin/busybox sh
# /init of the trustcloud QEMU test guest (crates/cli/tests/guest).
#
# Prints, between TC- markers on the serial console, what a verifier needs:
# the kernel command line, every PCR of the SHA-256 bank as the kernel's TPM
# driver reads it, the firmware's measured-boot event log and IMA's runtime
# log (the kernel's own measurements into PCR 10) as hex. Then it waits for
# commands on the console, one per line, while the host may inspect the
# live vTPM or migrate the VM:
#   report   print everything again (e.g. after a live migration)
#   go       power off
# Keep the markers in sync with guest/report.rs.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/ttyS0 >/dev/ttyS0 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
stty -echo 2>/dev/null

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
  ima=/sys/kernel/security/ima/binary_runtime_measurements
  if [ -r "$ima" ]; then
    echo "TC-IMALOG-BEGIN"
    xxd -p "$ima"
    echo "TC-IMALOG-END"
  fi
  echo "TC-END"
}

report
# Bounded waits: if the host is gone, the guest still powers off.
while read -t 300 reply; do
  case "$reply" in
    report) report ;;
    go) break ;;
  esac
done
echo "TC-POWEROFF ${reply}"
poweroff -f
