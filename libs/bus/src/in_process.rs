//! The embedded mode's bus: tokio tasks and channels in one process.
