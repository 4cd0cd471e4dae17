//! Sender Sequence Number reservations (RFC 8613 Appendix B.1.1) for every
//! context the client sends with: the OSCORE contexts with the AS and the
//! KDC, and its Group OSCORE Sender Contexts.
//!
//! Each context has a key (e.g. `group:g1:<gid>:<sid>`); before a context
//! hands out a number at or past its reserved mark, it records a new mark
//! here. With a file configured, the record is written durably (temporary
//! file, fsync, rename) before the number is used, so a later process
//! resuming the same context starts above every number that may have been
//! sent.

use group_oscore::SequenceStore;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The reserved marks of all contexts, optionally backed by a file.
#[derive(Debug, Default)]
pub struct SequenceMarks {
    file: Option<PathBuf>,
    marks: Mutex<BTreeMap<String, u64>>,
}

impl SequenceMarks {
    /// Marks kept in memory only.
    pub fn in_memory() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Marks recorded in `file` (read now if it exists).
    pub fn with_file(file: &Path) -> Result<Arc<Self>, String> {
        let marks = match std::fs::read(file) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", file.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("{}: {e}", file.display())),
        };
        Ok(Arc::new(Self {
            file: Some(file.to_path_buf()),
            marks: Mutex::new(marks),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The recorded mark of `key` (0 if none).
    pub fn get(&self, key: &str) -> u64 {
        self.lock().get(key).copied().unwrap_or(0)
    }

    /// Every recorded mark.
    pub fn all(&self) -> BTreeMap<String, u64> {
        self.lock().clone()
    }

    /// Raises the marks to at least those of `other` (e.g. from the state
    /// file), without writing.
    pub fn merge(&self, other: &BTreeMap<String, u64>) {
        let mut marks = self.lock();
        for (k, v) in other {
            let e = marks.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// Records `mark` for `key` (never lowers one) and writes the file.
    pub fn record(&self, key: &str, mark: u64) -> Result<(), String> {
        let mut marks = self.lock();
        let e = marks.entry(key.to_string()).or_insert(0);
        *e = (*e).max(mark);
        if let Some(file) = &self.file {
            write_atomically(
                file,
                &serde_json::to_vec_pretty(&*marks).map_err(|e| e.to_string())?,
            )
            .map_err(|e| format!("{}: {e}", file.display()))?;
        }
        Ok(())
    }

    /// A [`SequenceStore`] recording under `key`.
    pub fn store(self: &Arc<Self>, key: String) -> Box<dyn SequenceStore> {
        Box::new(MarkStore {
            marks: self.clone(),
            key,
        })
    }
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory, synced before the rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = dir
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

struct MarkStore {
    marks: Arc<SequenceMarks>,
    key: String,
}

impl SequenceStore for MarkStore {
    fn reserve(&mut self, mark: u64) -> Result<(), String> {
        self.marks.record(&self.key, mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_in_the_file_and_never_go_down() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seq.json");
        let marks = SequenceMarks::with_file(&file).unwrap();
        let mut store = marks.store("kdc:01".into());
        store.reserve(64).unwrap();
        store.reserve(128).unwrap();
        marks.record("kdc:01", 10).unwrap();
        let again = SequenceMarks::with_file(&file).unwrap();
        assert_eq!(again.get("kdc:01"), 128);
        assert_eq!(again.get("other"), 0);
    }
}
