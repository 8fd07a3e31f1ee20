//! What an item change leaves behind besides the item itself: the table's stream record
//! (on the event bus) and the point-in-time-recovery history. Called by
//! `write::apply_item_change`, inside the change's transaction.

use nimbus_store::WriteTxn;

use crate::error::DynamoDbError;
use crate::ops::catalog::TableMeta;
use crate::ops::pitr;
use crate::ops::write::ChangeCtx;
use crate::value::Item;

/// Records one item change (`old` -> `new`, either may be absent).
pub fn record(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    cx: &ChangeCtx,
) -> Result<(), DynamoDbError> {
    if table.pitr.is_some() {
        pitr::record(txn, table, old, new, cx)?;
    }
    Ok(())
}
