//! What every handler shares.

use std::sync::Arc;

use crate::{config::Config, core_client::Core};

/// What every handler shares: the clients of core and the settings.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Clients of core.
    pub core: Core,
    /// The settings.
    pub config: Arc<Config>,
}
