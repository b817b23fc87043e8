// Package cloudconfig applies a subset of cloud-init's #cloud-config to a
// running container through its transport.Transport, without cloud-init in
// the container: the container needs a POSIX sh and the usual commands
// (busybox is enough), nothing else.
//
// Parse reads one file strictly: it must begin with the line
// "#cloud-config", and a key this package does not know, or a value of the
// wrong type, is an error that names the file, the line and the column
// (*ParseError). Nothing is silently ignored. Merge joins several files, so
// that an instance can name more than one; Apply applies the result.
//
// # Modules
//
// Apply runs the modules in cloud-init's order (its init, config and final
// stages), each item in file order, and stops at the first failure with a
// *StepError that names the file, the module and the item, as in
// "web.cfg: runcmd[2]: exit status 3".
//
//  1. write_files (those without defer): path (absolute), content, encoding
//     (text, b64 or base64, gz or gzip, gz+b64, gzip+base64...; a YAML
//     !!binary value works too), permissions (octal, quoted or not: "0640",
//     0640, "640"; default 0644), owner ("user:group", "user" (group root)
//     or numeric ids; default root:root), append, defer. Missing parent
//     directories are created. A file is replaced atomically (written
//     beside the target, then renamed), with its mode and owner set before
//     it appears; a symlink at path is written through, as cloud-init does.
//     As in cloud-init, these files are written before users are created:
//     a file owned by a user that this config creates needs defer: true.
//  2. hostname and fqdn (set_hostname): writes /etc/hostname and sets the
//     running hostname. An fqdn alone gives the hostname its first label; a
//     hostname with dots is taken as the fqdn. preserve_hostname: true
//     skips this step; manage_etc_hosts: true also points the 127.0.1.1
//     line of /etc/hosts at "FQDN HOSTNAME" (only true and false are
//     accepted; cloud-init's "localhost" and templates are not).
//  3. groups, then users (users_groups). groups is a list of names and of
//     {name: [members]} maps, or one such map; users is a list of user
//     maps (or bare names) with name, gecos, homedir, primary_group, groups
//     (a list or a comma-separated string), shell, uid, system,
//     no_create_home, lock_passwd (default true, as in cloud-init: an
//     account given a passwd hash needs lock_passwd: false to log in with
//     it), passwd (a hash; hashed_passwd is the same), ssh_authorized_keys
//     and sudo (a rule string, a list of them, or false). cloud-init's
//     older hyphenated keys (lock-passwd, ...) are accepted. Missing groups
//     named by a user are created first. A group or user that already
//     exists is left as it is (as cloud-init does, its groups, shell and
//     password are not changed), except that a user's sudo rules and
//     authorized keys are still written; a group's listed members are
//     added when missing. The tools used are, in order of preference,
//     useradd/groupadd/usermod (shadow), busybox adduser/addgroup, or, when
//     the container has neither (a bare busybox), direct and atomic edits
//     of /etc/passwd, /etc/group and, where they exist, /etc/shadow and
//     /etc/gshadow. A password hash is set through chpasswd -e on its
//     standard input, so it never shows in a command line or an error.
//     Sudo rules go to /etc/sudoers.d/90-cloudconfig-USER (0440), checked
//     with visudo -cf first when visudo exists; authorized keys are merged
//     into ~/.ssh/authorized_keys (keys already there are kept).
//  4. timezone: writes /etc/timezone and, when /usr/share/zoneinfo exists,
//     points /etc/localtime at the zone, refusing a zone that is not there.
//     Without a zoneinfo directory (busybox), only /etc/timezone is written.
//  5. package_update, package_upgrade, packages (package_update_upgrade_install):
//     packages are names, or [name, version] pairs. The package manager
//     follows /etc/os-release: apt-get for Debian and Ubuntu (and ID_LIKE
//     debian), apk for Alpine, dnf (else yum) for Fedora and the RHEL
//     family. Installed packages are left alone, checked first with
//     dpkg-query, apk info -e or rpm -q, so a config whose packages are
//     all installed runs no package manager at all (and needs no network).
//     Unlike cloud-init, listing packages does not by itself refresh the
//     package lists: set package_update: true for images that ship without
//     them (the error says so). Upgrades use apt-get dist-upgrade, apk
//     upgrade and dnf upgrade, as cloud-init does. The apt module is not
//     supported: to point apt at a package source of your own, write
//     /etc/apt/sources.list with write_files, which comes first.
//  6. write_files with defer: true (write_files_deferred).
//  7. runcmd (scripts_user): each entry runs as root in /, a string with
//     /bin/sh -c, a list as argv without a shell. Unlike cloud-init, which
//     runs the whole list as one script, a failing command stops Apply.
//
// Apply detects the container's system (Detect) only when a step needs it:
// a config of files and commands works in any container.
//
// Applying again is safe wherever cloud-init's modules are: files are
// rewritten, existing users and groups are left, installed packages are
// skipped. runcmd runs again; make its commands idempotent.
//
// # Not supported
//
// Everything else is refused by Parse, never skipped. Among cloud-init's
// modules this includes bootcmd (it runs at every boot; Apply runs once:
// use runcmd), apt and yum_repos (sources and proxies), snap, the default
// user (users: [default], user:, top-level ssh_authorized_keys), chpasswd
// and password, ssh and ssh_pwauth, ca_certs, locale, ntp, mounts,
// power_state, phone_home and final_message, cloud-init's merge_how
// directives and Jinja templates. In users: plain_text_passwd, doas,
// ssh_import_id, ssh_redirect_user, expiredate, inactive, selinux_user,
// snapuser, no_user_group and create_groups. In write_files: source (a URL
// to fetch). In packages: the {apt: [...], snap: [...]} maps.
//
// Output of the commands that steps run (runcmd, package managers, user
// tools) goes to ApplyOptions.Stdout and Stderr when set; Apply itself
// never prints.
package cloudconfig
