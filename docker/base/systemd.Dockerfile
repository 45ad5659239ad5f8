# A Debian 13 host for molecule and end-to-end tests: systemd as PID 1 plus
# what Ansible, molecule and testinfra need on a target, nothing more.
ARG BASE_IMAGE=ragstack-local/debian13-minbase:latest
FROM ${BASE_IMAGE}

ENV container=docker

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        systemd systemd-sysv dbus python3 python3-apt sudo iproute2 procps \
        ca-certificates gnupg curl openssl less \
    && rm -rf /var/lib/apt/lists/* \
    # Units that need real hardware, ttys or kernel mounts fail in a container
    # and would leave the system "degraded" for no reason.
    && systemctl mask \
        systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
        systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service \
        getty.target getty@tty1.service console-getty.service serial-getty@.service \
        systemd-resolved.service systemd-timesyncd.service systemd-firstboot.service \
        systemd-remount-fs.service systemd-modules-load.service kmod-static-nodes.service \
        systemd-machine-id-commit.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
        sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
        sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
        systemd-journald-audit.socket systemd-pcrphase.service systemd-pcrphase-sysinit.service \
        apt-daily.timer apt-daily-upgrade.timer \
    # An empty machine-id makes systemd generate a fresh one per container.
    && rm -f /var/lib/dbus/machine-id \
    && : > /etc/machine-id

STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
