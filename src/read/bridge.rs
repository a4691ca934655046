//! Zero-copy hand-over of arrow 56 batches (ConnectorX's side) to arrow 59 (DataFusion's side).
//!
//! Both arrow versions implement the same `#[repr(C)]` Arrow C Data Interface structs, so a batch
//! is exported as a struct array by arrow 56 and imported by arrow 59: the buffers are shared and
//! released by whichever side drops last.

use std::sync::Arc;

use arrow::array::StructArray;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{Error, Result};

/// The arrow 56 crate ConnectorX uses, re-exported for callers that build batches for [`from_cx`].
pub use arrow56;

/// Moves one ConnectorX (arrow 56) batch into an arrow 59 [`RecordBatch`] without copying any
/// buffer.
pub fn from_cx(batch: arrow56::record_batch::RecordBatch) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let struct_array = arrow56::array::StructArray::from(batch);
    let data = arrow56::array::Array::to_data(&struct_array);
    let (ffi_array, ffi_schema) = arrow56::ffi::to_ffi(&data)
        .map_err(|e| Error::Arrow(arrow::error::ArrowError::CDataInterface(e.to_string())))?;
    // SAFETY: FFI_ArrowArray and FFI_ArrowSchema are `#[repr(C)]` definitions of the Arrow C Data
    // Interface in both arrow versions; the release callbacks travel with the structs, so
    // ownership of the buffers moves across exactly once.
    let ffi_array: arrow::ffi::FFI_ArrowArray = unsafe { std::mem::transmute(ffi_array) };
    let ffi_schema: arrow::ffi::FFI_ArrowSchema = unsafe { std::mem::transmute(ffi_schema) };
    // SAFETY: the structs were produced by arrow 56's exporter just above and are valid.
    let data = unsafe { arrow::ffi::from_ffi(ffi_array, &ffi_schema) }?;
    let array = StructArray::from(data);
    if array.num_columns() == 0 {
        let schema = Arc::new(arrow::datatypes::Schema::empty());
        return Ok(RecordBatch::try_new_with_options(
            schema,
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?);
    }
    Ok(RecordBatch::from(array))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use arrow56::array::{Int64Array as I64_56, StringArray as Str56};

    #[test]
    fn buffers_are_shared_not_copied() {
        let ints = I64_56::from(vec![Some(1), None, Some(3)]);
        let strs = Str56::from(vec![Some("a"), Some("bc"), None]);
        let before_int = ints.values().inner().as_ptr() as usize;
        let before_str = strs.values().as_ptr() as usize;
        let schema = arrow56::datatypes::Schema::new(vec![
            arrow56::datatypes::Field::new("i", arrow56::datatypes::DataType::Int64, true),
            arrow56::datatypes::Field::new("s", arrow56::datatypes::DataType::Utf8, true),
        ]);
        let batch = arrow56::record_batch::RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(ints), Arc::new(strs)],
        )
        .unwrap();
        let out = from_cx(batch).unwrap();
        let i = out
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        let s = out
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        assert_eq!(i.values().inner().as_ptr() as usize, before_int);
        assert_eq!(s.values().as_ptr() as usize, before_str);
        assert_eq!(i.value(2), 3);
        assert!(i.is_null(1));
        assert_eq!(s.value(1), "bc");
        assert!(s.is_null(2));
    }

    #[test]
    fn empty_projection_keeps_row_count() {
        let batch = arrow56::record_batch::RecordBatch::try_new_with_options(
            Arc::new(arrow56::datatypes::Schema::empty()),
            vec![],
            &arrow56::record_batch::RecordBatchOptions::new().with_row_count(Some(7)),
        )
        .unwrap();
        assert_eq!(from_cx(batch).unwrap().num_rows(), 7);
    }
}
