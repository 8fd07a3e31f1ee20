//! `ConsumedCapacity` and `ItemCollectionMetrics` of the data-plane operations, with
//! AWS's arithmetic.
//!
//! Reads cost one unit per 4 KB of item (rounded up, at least one), half that when
//! eventually consistent, double when transactional; Query and Scan round the sum of the
//! items read, GetItem-like reads round each item. Writes cost one unit per 1 KB of the
//! larger of the old and new item (at least one), double when transactional. Each
//! secondary index the write touches costs its own units: one write when an entry
//! appears, disappears or changes in place, two (delete + put) when its key moves; no
//! write when the projected entry is unchanged.
//!
//! The response shape follows DynamoDB: `TOTAL` gives `TableName`, `CapacityUnits` and
//! `ReadCapacityUnits`/`WriteCapacityUnits` (whichever kinds were consumed); `INDEXES`
//! adds `Table` and the `GlobalSecondaryIndexes`/`LocalSecondaryIndexes` breakdown.

use std::collections::HashMap;

use nimbus_model::dynamodb::{
    Capacity, ConsumedCapacity, ItemCollectionMetrics, ReturnConsumedCapacity,
    ReturnItemCollectionMetrics,
};

use crate::error::DynamoDbError;
use crate::ops::catalog::{IndexKind, IndexMeta, TableMeta};
use crate::ops::convert::value_to_attr;
use crate::ops::write;
use crate::size::{item_size, read_units_for_item, write_units, ReadMode};
use crate::value::{Item, Value};

/// What `ReturnConsumedCapacity` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityMode {
    None,
    Total,
    Indexes,
}

impl CapacityMode {
    pub fn from_request(r: Option<&ReturnConsumedCapacity>) -> CapacityMode {
        match r {
            Some(ReturnConsumedCapacity::Total) => CapacityMode::Total,
            Some(ReturnConsumedCapacity::Indexes) => CapacityMode::Indexes,
            _ => CapacityMode::None,
        }
    }

    /// Whether any capacity has to be computed at all.
    pub fn wanted(self) -> bool {
        self != CapacityMode::None
    }
}

/// Read and write units of one table or index; `None` when no such work happened (the
/// response then leaves the member out).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub read: Option<f64>,
    pub write: Option<f64>,
}

impl Units {
    pub fn add_read(&mut self, units: f64) {
        *self.read.get_or_insert(0.0) += units;
    }

    pub fn add_write(&mut self, units: f64) {
        *self.write.get_or_insert(0.0) += units;
    }

    pub fn total(&self) -> f64 {
        self.read.unwrap_or(0.0) + self.write.unwrap_or(0.0)
    }

    fn to_capacity(self) -> Capacity {
        Capacity {
            read_capacity_units: self.read,
            write_capacity_units: self.write,
            capacity_units: Some(self.total()),
        }
    }
}

/// The capacity one request consumed on one table and its indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    table_name: String,
    table: Units,
    /// Index name, kind and units, in the order first touched.
    indexes: Vec<(String, IndexKind, Units)>,
}

impl Usage {
    pub fn new(table_name: &str) -> Usage {
        Usage {
            table_name: table_name.to_string(),
            table: Units::default(),
            indexes: Vec::new(),
        }
    }

    pub fn table_units(&mut self) -> &mut Units {
        &mut self.table
    }

    pub fn index_units(&mut self, index: &IndexMeta) -> &mut Units {
        let pos = match self.indexes.iter().position(|(n, _, _)| *n == index.name) {
            Some(p) => p,
            None => {
                self.indexes
                    .push((index.name.clone(), index.kind, Units::default()));
                self.indexes.len() - 1
            }
        };
        // In bounds: found above or just pushed.
        &mut self.indexes[pos].2
    }

    /// Read units for one item read whole (GetItem, BatchGetItem, TransactGetItems);
    /// `size_bytes` is 0 for a missing item, which still costs one unit.
    pub fn read_item(&mut self, size_bytes: usize, mode: ReadMode) {
        self.table.add_read(read_units_for_item(size_bytes, mode));
    }

    /// Write units for one item change (PutItem, UpdateItem, DeleteItem and their batch
    /// and transactional forms), on the table and every index the change touches.
    pub fn write_change(
        &mut self,
        table: &TableMeta,
        old: Option<&Item>,
        new: Option<&Item>,
        transactional: bool,
    ) -> Result<(), DynamoDbError> {
        let old_size = old.map_or(0, item_size);
        let new_size = new.map_or(0, item_size);
        self.table
            .add_write(write_units(old_size.max(new_size), transactional));
        for index in &table.indexes {
            let old_entry = match old {
                Some(o) => write::index_entry(table, index, o)?,
                None => None,
            };
            let new_entry = match new {
                Some(n) => write::index_entry(table, index, n)?,
                None => None,
            };
            let units = match (&old_entry, &new_entry) {
                (None, None) => 0.0,
                (Some((_, o)), None) => write_units(item_size(o), transactional),
                (None, Some((_, n))) => write_units(item_size(n), transactional),
                (Some((ok, o)), Some((nk, n))) => {
                    if ok != nk {
                        write_units(item_size(o), transactional)
                            + write_units(item_size(n), transactional)
                    } else if o == n {
                        0.0
                    } else {
                        write_units(item_size(o).max(item_size(n)), transactional)
                    }
                }
            };
            if units > 0.0 {
                self.index_units(index).add_write(units);
            }
        }
        Ok(())
    }

    /// Adds another usage of the same table.
    pub fn absorb(&mut self, other: Usage) {
        add_units(&mut self.table, other.table);
        for (name, kind, units) in other.indexes {
            match self.indexes.iter_mut().find(|(n, _, _)| *n == name) {
                Some((_, _, u)) => add_units(u, units),
                None => self.indexes.push((name, kind, units)),
            }
        }
    }

    /// Whether anything was recorded.
    pub fn is_empty(&self) -> bool {
        self.table == Units::default() && self.indexes.is_empty()
    }

    /// The response member for `mode` (`None` when the request did not ask).
    pub fn to_consumed(&self, mode: CapacityMode) -> Option<ConsumedCapacity> {
        if !mode.wanted() {
            return None;
        }
        let mut total = self.table;
        for (_, _, u) in &self.indexes {
            add_units(&mut total, *u);
        }
        let mut out = ConsumedCapacity {
            table_name: Some(self.table_name.clone()),
            capacity_units: Some(total.total()),
            read_capacity_units: total.read,
            write_capacity_units: total.write,
            ..Default::default()
        };
        if mode == CapacityMode::Indexes {
            out.table = Some(self.table.to_capacity());
            let mut gsis: HashMap<String, Capacity> = HashMap::new();
            let mut lsis: HashMap<String, Capacity> = HashMap::new();
            for (name, kind, u) in &self.indexes {
                let target = match kind {
                    IndexKind::Global => &mut gsis,
                    IndexKind::Local => &mut lsis,
                };
                target.insert(name.clone(), u.to_capacity());
            }
            if !gsis.is_empty() {
                out.global_secondary_indexes = Some(gsis);
            }
            if !lsis.is_empty() {
                out.local_secondary_indexes = Some(lsis);
            }
        }
        Some(out)
    }
}

fn add_units(into: &mut Units, from: Units) {
    if let Some(r) = from.read {
        into.add_read(r);
    }
    if let Some(w) = from.write {
        into.add_write(w);
    }
}

/// Capacity of a request that touches several tables (batch and transactional
/// operations), one `ConsumedCapacity` per table in the order first touched.
#[derive(Debug, Clone, Default)]
pub struct UsageSet {
    tables: Vec<Usage>,
}

impl UsageSet {
    pub fn table(&mut self, name: &str) -> &mut Usage {
        let pos = match self.tables.iter().position(|u| u.table_name == name) {
            Some(p) => p,
            None => {
                self.tables.push(Usage::new(name));
                self.tables.len() - 1
            }
        };
        // In bounds: found above or just pushed.
        &mut self.tables[pos]
    }

    /// Adds the usage of another part of the same request.
    pub fn merge(&mut self, other: UsageSet) {
        for u in other.tables {
            let name = u.table_name.clone();
            self.table(&name).absorb(u);
        }
    }

    pub fn to_consumed(&self, mode: CapacityMode) -> Option<Vec<ConsumedCapacity>> {
        if !mode.wanted() {
            return None;
        }
        Some(
            self.tables
                .iter()
                .filter_map(|u| u.to_consumed(mode))
                .collect(),
        )
    }
}

/// Whether `ReturnItemCollectionMetrics` asked for `SIZE`.
pub fn metrics_wanted(r: Option<&ReturnItemCollectionMetrics>) -> bool {
    matches!(r, Some(ReturnItemCollectionMetrics::Size))
}

/// The item collection metrics of a write to the item with partition key `hash`: only tables with a
/// local secondary index have item collections. The size estimate is the 1 GB bucket the
/// collection falls in; collections here never approach the 10 GB limit, so it is the
/// first one, `[0.0, 1.0]`, as DynamoDB reports for small collections.
pub fn collection_metrics(table: &TableMeta, hash: &Value) -> Option<ItemCollectionMetrics> {
    if !table.indexes.iter().any(|i| i.kind == IndexKind::Local) {
        return None;
    }
    let mut key = HashMap::with_capacity(1);
    key.insert(table.key.hash.name.clone(), value_to_attr(hash));
    Some(ItemCollectionMetrics {
        item_collection_key: Some(key),
        size_estimate_range_gb: Some(vec![0.0, 1.0]),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::catalog::tests::sample_table;

    fn item(pairs: &[(&str, Value)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn n(s: &str) -> Value {
        Value::n(s).unwrap()
    }

    #[test]
    fn reads_round_per_item_and_halve_when_eventual() {
        let mut u = Usage::new("t");
        u.read_item(0, ReadMode::Eventual);
        u.read_item(4096, ReadMode::Strong);
        u.read_item(4097, ReadMode::Strong);
        let c = u.to_consumed(CapacityMode::Total).unwrap();
        assert_eq!(c.capacity_units, Some(3.5));
        assert_eq!(c.read_capacity_units, Some(3.5));
        assert_eq!(c.write_capacity_units, None);
        assert_eq!(c.table, None);
        assert_eq!(c.table_name.as_deref(), Some("t"));
        assert!(u.to_consumed(CapacityMode::None).is_none());
        let c = u.to_consumed(CapacityMode::Indexes).unwrap();
        assert_eq!(
            c.table,
            Some(Capacity {
                read_capacity_units: Some(3.5),
                write_capacity_units: None,
                capacity_units: Some(3.5)
            })
        );
        assert!(c.global_secondary_indexes.is_none());
    }

    #[test]
    fn writes_charge_the_larger_item_and_each_touched_index() {
        let t = sample_table(); // KEYS_ONLY GSI gsi1 on gpk
        let base = [("pk", Value::s("a")), ("sk", n("1"))];
        let mut small = item(&base);
        small.insert("gpk".into(), Value::s("g1"));
        let mut big = small.clone();
        big.insert("x".into(), Value::s("y".repeat(1500)));
        // New item entering the index: table 1, index 1.
        let mut u = Usage::new("t1");
        u.write_change(&t, None, Some(&small), false).unwrap();
        let c = u.to_consumed(CapacityMode::Indexes).unwrap();
        assert_eq!(c.capacity_units, Some(2.0));
        assert_eq!(c.write_capacity_units, Some(2.0));
        assert_eq!(c.table.unwrap().capacity_units, Some(1.0));
        assert_eq!(
            c.global_secondary_indexes.unwrap()["gsi1"].write_capacity_units,
            Some(1.0)
        );
        // Growing a non-projected attribute: table charged for the larger (2 KB), index
        // entry unchanged so no index write.
        let mut u = Usage::new("t1");
        u.write_change(&t, Some(&small), Some(&big), false).unwrap();
        let c = u.to_consumed(CapacityMode::Indexes).unwrap();
        assert_eq!(c.capacity_units, Some(2.0));
        assert!(c.global_secondary_indexes.is_none());
        // Moving the index key: delete + put on the index; transactional doubles.
        let mut moved = small.clone();
        moved.insert("gpk".into(), Value::s("g2"));
        let mut u = Usage::new("t1");
        u.write_change(&t, Some(&small), Some(&moved), true)
            .unwrap();
        let c = u.to_consumed(CapacityMode::Total).unwrap();
        assert_eq!(c.capacity_units, Some(2.0 + 4.0));
        // Deleting a missing item still costs one unit.
        let mut u = Usage::new("t1");
        u.write_change(&t, None, None, false).unwrap();
        assert_eq!(
            u.to_consumed(CapacityMode::Total).unwrap().capacity_units,
            Some(1.0)
        );
    }

    #[test]
    fn usage_sets_keep_table_order() {
        let mut s = UsageSet::default();
        s.table("b").table_units().add_write(1.0);
        s.table("a").table_units().add_read(0.5);
        s.table("b").table_units().add_write(2.0);
        let v = s.to_consumed(CapacityMode::Total).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].table_name.as_deref(), Some("b"));
        assert_eq!(v[0].capacity_units, Some(3.0));
        assert_eq!(v[1].read_capacity_units, Some(0.5));
        assert!(s.to_consumed(CapacityMode::None).is_none());
    }

    #[test]
    fn collection_metrics_only_with_local_indexes() {
        let mut t = sample_table();
        let h = Value::s("a");
        assert!(collection_metrics(&t, &h).is_none());
        t.indexes[0].kind = IndexKind::Local;
        let m = collection_metrics(&t, &h).unwrap();
        assert_eq!(m.size_estimate_range_gb, Some(vec![0.0, 1.0]));
        let key = m.item_collection_key.unwrap();
        assert_eq!(key.len(), 1);
        assert_eq!(key["pk"].s.as_deref(), Some("a"));
    }
}
