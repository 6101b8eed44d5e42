//! Whether `state.db` would sit on a network filesystem, where SQLite's locks and the WAL's
//! shared memory do not hold across hosts (the SQLite FAQ: fcntl locks "are broken on many NFS
//! implementations"; the WAL's `-shm` is memory that only one host's kernel shares). The kind
//! comes from statfs(2); for FUSE, from the mount's type in `/proc/self/mountinfo`, since FUSE
//! carries both network filesystems (sshfs, GlusterFS, s3fs) and local ones (fuse-overlayfs,
//! ntfs-3g).

use std::path::Path;

use super::StoreError;

/// The network filesystems statfs(2) names by their magic number (linux/magic.h and the
/// vendors' headers), with the name said in the error.
const NETWORK_MAGICS: &[(u64, &str)] = &[
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x5346_414F, "AFS"),
    (0x6B41_4653, "AFS"),
    (0x7375_7245, "Coda"),
    (0x0102_1997, "9P"),
    (0x564C, "NCP"),
    (0x00C3_6400, "CephFS"),
    (0x0BD0_0BD0, "Lustre"),
    (0x4750_4653, "GPFS"),
    (0x1983_0326, "BeeGFS"),
    (0xAAD7_AAEA, "PanFS"),
    (0x2003_0528, "OrangeFS"),
    (0x7461_636F, "OCFS2"),
    (0x0116_1970, "GFS2"),
];

/// statfs(2)'s type of every FUSE mount (`fuse` and `fuseblk` alike).
const FUSE_MAGIC: u64 = 0x6573_5546;

/// FUSE filesystems that reach another host (the part after `fuse.` in mountinfo's type).
const NETWORK_FUSE: &[&str] = &[
    "sshfs",
    "glusterfs",
    "s3fs",
    "gcsfuse",
    "rclone",
    "juicefs",
    "ceph-fuse",
    "mfs",
    "lizardfs",
    "goofys",
    "blobfuse",
    "blobfuse2",
    "seaweedfs",
    "curlftpfs",
    "davfs",
    "alluxio-fuse",
    "weed",
    // GNOME's smb:// and sftp:// shares.
    "gvfsd-fuse",
    "s3ql",
    "xtreemfs",
    "cvmfs2",
    "beegfs",
    "httpdirfs",
    "google-drive-ocamlfuse",
    "onedriver",
    "keybase-redirector",
    "mount-s3",
];

/// Refuse to write a DB at `db` on a network filesystem, where SQLite's locks and the WAL's
/// shared memory do not hold across hosts. Asked of the DB file, or of the nearest folder
/// above it that exists (before anything is made), through symlinks.
pub fn refuse_network_fs(db: &Path) -> Result<(), StoreError> {
    let Some(at) = db.ancestors().find(|p| p.exists()) else {
        return Ok(());
    };
    match network_fs(at) {
        Some(kind) => Err(StoreError::NetworkFs {
            path: db.to_path_buf(),
            kind,
        }),
        None => Ok(()),
    }
}

/// The network filesystem `path` (a file or folder that exists) is on, by name, or `None` for
/// a local one, and for one statfs cannot tell (SQLite then says what it finds). A FUSE mount
/// whose type cannot be found is taken for a network one: safe, and rare.
pub fn network_fs(path: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let stat = nix::sys::statfs::statfs(path).ok()?;
    // fs_type_t is i64 on glibc, u32 elsewhere; the magic numbers fit in 32 bits either way.
    #[allow(clippy::unnecessary_cast)]
    let magic = stat.filesystem_type().0 as u64 & 0xFFFF_FFFF;
    if magic != FUSE_MAGIC {
        return network_magic(magic).map(str::to_string);
    }
    let unknown = || Some("FUSE, of a type not found in /proc/self/mountinfo".to_string());
    let (Ok(real), Ok(meta), Ok(mountinfo)) = (
        std::fs::canonicalize(path),
        std::fs::metadata(path),
        std::fs::read("/proc/self/mountinfo"),
    ) else {
        return unknown();
    };
    let dev = (
        nix::sys::stat::major(meta.dev()),
        nix::sys::stat::minor(meta.dev()),
    );
    match mount_type(&mountinfo, real.as_os_str().as_bytes(), dev) {
        Some(fstype) if network_fuse(&fstype) => Some(fstype),
        Some(_) => None,
        None => unknown(),
    }
}

/// The network filesystem a statfs(2) magic number stands for.
fn network_magic(magic: u64) -> Option<&'static str> {
    NETWORK_MAGICS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

/// Whether mountinfo's type of a FUSE mount (`fuse.sshfs`) is a network filesystem.
fn network_fuse(fstype: &str) -> bool {
    fstype
        .strip_prefix("fuse.")
        .is_some_and(|sub| NETWORK_FUSE.contains(&sub))
}

/// The type of the mount that holds `path` (canonical, as bytes: a mount point need not be
/// UTF-8): among the mounts of its device (`major:minor`, which tells a mount from one it
/// hides), the one whose mount point is the longest leading part of it, the last listed where
/// several are; without one of its device, any mount so placed.
fn mount_type<'m>(mountinfo: &'m [u8], path: &[u8], dev: (u64, u64)) -> Option<String> {
    let mut of_device: Option<(usize, &'m [u8])> = None;
    let mut any: Option<(usize, &'m [u8])> = None;
    for line in mountinfo.split(|b| *b == b'\n') {
        // <id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <type> ...
        let Some(split) = line.windows(3).position(|w| w == b" - ") else {
            continue;
        };
        let (head, tail) = (&line[..split], &line[split + 3..]);
        let fields: Vec<&[u8]> = head.split(|b| *b == b' ').collect();
        let (Some(majmin), Some(point), Some(fstype)) = (
            fields.get(2),
            fields.get(4),
            tail.split(|b| *b == b' ').next(),
        ) else {
            continue;
        };
        let point = unescape(point);
        if !under(path, &point) {
            continue;
        }
        let depth = point
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty())
            .count();
        let pick = |best: &mut Option<(usize, &'m [u8])>| {
            if best.is_none_or(|(d, _)| depth >= d) {
                *best = Some((depth, fstype));
            }
        };
        pick(&mut any);
        if parse_dev(majmin) == Some(dev) {
            pick(&mut of_device);
        }
    }
    of_device
        .or(any)
        .map(|(_, fstype)| String::from_utf8_lossy(fstype).into_owned())
}

/// Whether `path` is `point` or below it, by whole components.
fn under(path: &[u8], point: &[u8]) -> bool {
    point == b"/"
        || path == point
        || (path.starts_with(point) && path.get(point.len()) == Some(&b'/'))
}

/// `major:minor`.
fn parse_dev(field: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(field).ok()?;
    let (major, minor) = text.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`) undone.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (field[i], octal) {
            (b'\\', Some(d)) => {
                let value = d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
30 22 0:26 / /tmp rw,nosuid - tmpfs tmpfs rw
41 22 0:40 / /home rw,relatime shared:5 - nfs4 filer:/export/home rw,vers=4.2
42 41 0:41 / /home/ana/scratch rw - ext4 /dev/sdb1 rw
46 22 0:45 / /mnt/lab\\040share rw,nosuid,nodev - fuse.sshfs ana@gpu1:/data rw
47 22 0:46 / /mnt/ovl rw - fuse.fuse-overlayfs fuse-overlayfs rw
48 22 0:47 / /mnt/twice rw - ext4 /dev/sdc1 rw
49 48 0:48 / /mnt/twice rw - fuse.glusterfs gfs:/vol rw
";

    #[test]
    fn the_kernels_network_filesystems_are_known_by_their_magic() {
        assert_eq!(network_magic(0x6969), Some("NFS"));
        assert_eq!(network_magic(0xFF53_4D42), Some("CIFS"));
        assert_eq!(network_magic(0xFE53_4D42), Some("SMB2"));
        assert_eq!(network_magic(0x0BD0_0BD0), Some("Lustre"));
        assert_eq!(network_magic(0x4750_4653), Some("GPFS"));
        assert_eq!(network_magic(0x00C3_6400), Some("CephFS"));
        // ext4, XFS, Btrfs, tmpfs, overlayfs, ZFS: local.
        for local in [
            0xEF53,
            0x5846_5342,
            0x9123_683E,
            0x0102_1994,
            0x794C_7630,
            0x2FC1_2FC1,
        ] {
            assert_eq!(network_magic(local), None, "{local:#x}");
        }
    }

    #[test]
    fn a_fuse_mount_is_a_network_one_only_by_its_type() {
        assert!(network_fuse("fuse.sshfs"));
        assert!(network_fuse("fuse.glusterfs"));
        assert!(!network_fuse("fuse.fuse-overlayfs"));
        assert!(!network_fuse("fuse"));
        assert!(!network_fuse("fuseblk"));
        assert!(!network_fuse("sshfs"));
    }

    #[test]
    fn the_mount_holding_a_path_is_the_longest_mount_point_above_it() {
        let of = |p: &str| mount_type(MOUNTINFO.as_bytes(), p.as_bytes(), (9, 9));
        assert_eq!(of("/home/ana/proj/.runctl").as_deref(), Some("nfs4"));
        assert_eq!(of("/home/ana/scratch/proj").as_deref(), Some("ext4"));
        assert_eq!(of("/home").as_deref(), Some("nfs4"));
        // /homework is not under /home: whole components, not a string prefix.
        assert_eq!(of("/homework").as_deref(), Some("ext4"));
        assert_eq!(of("/tmp/x").as_deref(), Some("tmpfs"));
        assert_eq!(of("/mnt/lab share/p").as_deref(), Some("fuse.sshfs"));
        assert_eq!(of("/mnt/ovl/p").as_deref(), Some("fuse.fuse-overlayfs"));
        // Mounted over: the later mount is the one seen.
        assert_eq!(of("/mnt/twice/p").as_deref(), Some("fuse.glusterfs"));
        assert_eq!(mount_type(b"garbage\n\n1 2 3\n", b"/x", (0, 1)), None);
    }

    #[test]
    fn a_mount_is_told_from_the_one_it_hides_by_its_device() {
        // sshfs mounted over /w/ov, which held a tmpfs at /w/ov/inner: a path under
        // /w/ov/inner is on the sshfs now (its device says so), not on the hidden tmpfs.
        let info = b"60 22 0:50 / /w/ov rw - tmpfs tmpfs rw\n\
                     61 60 0:51 / /w/ov/inner rw - tmpfs tmpfs rw\n\
                     62 22 0:52 / /w/ov rw - fuse.sshfs x@h:/ rw\n";
        assert_eq!(
            mount_type(info, b"/w/ov/inner/p", (0, 52)).as_deref(),
            Some("fuse.sshfs")
        );
        assert_eq!(
            mount_type(info, b"/w/ov/inner/p", (0, 51)).as_deref(),
            Some("tmpfs")
        );
    }

    #[test]
    fn a_mount_point_that_is_not_utf8_is_read_as_bytes() {
        let info = b"1 0 0:1 / / rw - ext4 /dev/vda rw\n\
                     7 1 0:7 / /mnt/bad\xff rw - tmpfs tmpfs rw\n\
                     8 1 0:8 / /mnt/ssh rw - fuse.sshfs x@h:/ rw\n";
        assert_eq!(
            mount_type(info, b"/mnt/ssh/p", (0, 8)).as_deref(),
            Some("fuse.sshfs")
        );
        assert_eq!(
            mount_type(info, b"/mnt/bad\xff/p", (0, 7)).as_deref(),
            Some("tmpfs")
        );
    }

    #[test]
    fn escapes_in_mount_points_are_undone() {
        assert_eq!(unescape(br"/mnt/a\040b"), b"/mnt/a b");
        assert_eq!(
            unescape(br"/mnt/tab\011nl\012bs\134"),
            b"/mnt/tab\tnl\nbs\\"
        );
        assert_eq!(unescape(br"/mnt/not\04"), br"/mnt/not\04");
        assert_eq!(unescape(br"/mnt/\999"), br"/mnt/\999");
    }

    #[test]
    fn a_local_folder_is_not_a_network_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(network_fs(dir.path()), None);
        assert_eq!(network_fs(Path::new("/no/such/folder")), None);
    }
}
