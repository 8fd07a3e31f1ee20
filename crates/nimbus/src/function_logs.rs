//! Function output into CloudWatch Logs: the engine's [`LogSink`] on CloudWatch Logs'
//! bounded writer. The engine exists from startup, CloudWatch Logs only once the store is
//! open, so the writer is attached later; until then (no function can run before the
//! store is open anyway) lines are counted and dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use nimbus_functions::LogSink;
use nimbus_logs::LogWriter;

#[derive(Default)]
pub struct FunctionLogs {
    writer: OnceLock<LogWriter>,
    dropped_before_open: AtomicU64,
}

impl FunctionLogs {
    pub fn attach(&self, writer: LogWriter) {
        let _ = self.writer.set(writer);
    }

    pub fn writer(&self) -> Option<&LogWriter> {
        self.writer.get()
    }
}

impl LogSink for FunctionLogs {
    fn append(
        &self,
        account_id: &str,
        region: &str,
        group: &str,
        stream: &str,
        lines: Vec<(i64, String)>,
    ) {
        match self.writer.get() {
            Some(w) => w.append(account_id, region, group, stream, lines),
            None => {
                self.dropped_before_open
                    .fetch_add(lines.len() as u64, Ordering::Relaxed);
            }
        }
    }
}
