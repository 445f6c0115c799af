//! Views of the canonical [`AnalysisResult`](crate::result::AnalysisResult): every output
//! format is a function of it, and none recomputes a spectrum.

pub mod allocation;
pub mod bins;
pub mod compare_data;
pub mod compare_html;
pub mod csv;
pub mod draw;
pub mod draw_layer;
pub mod draw_model;
pub mod font;
pub mod html;
pub mod json;
pub mod layer_data;
pub mod load;
pub mod model_data;
pub mod num;
pub mod order;
pub mod page;
pub mod png;
pub mod scan;
pub mod status;
pub mod synthetic;
pub mod table;
pub mod training_data;
pub mod training_draw;
pub mod training_html;
pub mod training_text;
