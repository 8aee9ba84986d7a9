//! Files only their owner can read, written so that no reader (or a replica starting
//! at the same moment) ever sees one half written.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// Writes a file only its owner can read (mode 0600), replacing any previous one
/// atomically: a temporary file beside it, synced, then renamed over it.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temp = write_temp(path, contents)?;
    let renamed = std::fs::rename(&temp, path);
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed?;
    sync_parent(path)
}

/// Creates a file only its owner can read (mode 0600) unless one is already there;
/// true when this call created it. Complete or absent, never partial: the contents
/// are synced in a temporary file first, then hard-linked into place, which fails
/// rather than replaces when another process got there first.
pub fn create_private_if_absent(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    let temp = write_temp(path, contents)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => sync_parent(path).map(|()| true),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(err),
    }
}

fn write_temp(path: &Path, contents: &[u8]) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{:016x}.tmp", rand::random::<u64>()));
    let temp = path.with_file_name(temp_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map(|()| temp)
}

/// The new name survives a crash only once its directory is synced.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_private_replaces_the_file_whole_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        write_private(&path, b"first\n").unwrap();
        write_private(&path, b"second\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(entries(dir.path()), ["admin-token"]);
    }

    #[test]
    fn write_private_keeps_the_old_file_when_the_new_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        write_private(&path, b"kept\n").unwrap();
        // A directory where the file should be: the rename fails, nothing is lost.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"").unwrap();
        assert!(write_private(&blocked, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"kept\n");
        assert_eq!(entries(dir.path()), ["admin-token", "blocked"]);
    }

    #[test]
    fn create_private_if_absent_lets_the_first_writer_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("media-secret");
        assert!(create_private_if_absent(&path, b"first").unwrap());
        assert!(!create_private_if_absent(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(entries(dir.path()), ["media-secret"]);
    }

    #[test]
    fn racing_creators_agree_on_one_complete_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("media-secret");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|i| vec![b'a' + i; 64 * 1024]).collect();
        let winners: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = contents
                .iter()
                .map(|bytes| scope.spawn(|| create_private_if_absent(&path, bytes).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(winners.iter().filter(|won| **won).count(), 1, "{winners:?}");
        let winner = winners.iter().position(|won| *won).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), contents[winner]);
        assert_eq!(entries(dir.path()), ["media-secret"]);
    }
}
