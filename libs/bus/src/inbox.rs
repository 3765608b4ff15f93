//! The inbox: a consumer records each message id in its own `inbox` table
//! in the same transaction as the message's effect, and skips ids it has
//! already recorded: exactly-once effects over at-least-once delivery.

use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

/// Records that `consumer` processed `message_id`, inside the caller's
/// transaction. Returns false if it already had (the caller then does
/// nothing and commits).
pub async fn record_once<C: ConnectionTrait>(conn: &C, consumer: &str, message_id: Uuid) -> Result<bool, DbErr> {
    let _ = (conn, consumer, message_id);
    todo!("implemented by the bus crate")
}
