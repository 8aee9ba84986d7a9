//! The one outside form of edit instructions: a list of one-key objects shaped like
//! the GraphQL `EditInstruction` input, e.g. `[{"brightness": 1.2}, {"crop": {"x": 0,
//! "y": 0, "width": 100, "height": 80}}, {"flip": "HORIZONTAL"}]`. Stored in
//! `Image.edits`, returned in payloads, and asked of the planner model (whose answer is
//! parsed here as strictly as user input).

use serde_json::{Value, json};

use super::{EditInstruction, Fit, FlipAxis};

/// The outside form of `instructions`.
pub fn to_json(instructions: &[EditInstruction]) -> Value {
    Value::Array(instructions.iter().map(one_to_json).collect())
}

fn one_to_json(instruction: &EditInstruction) -> Value {
    match *instruction {
        EditInstruction::Brightness(f) => json!({ "brightness": decimal(f) }),
        EditInstruction::Contrast(f) => json!({ "contrast": decimal(f) }),
        EditInstruction::Saturation(f) => json!({ "saturation": decimal(f) }),
        EditInstruction::Sharpness(f) => json!({ "sharpness": decimal(f) }),
        EditInstruction::Blur { sigma } => json!({ "blur": decimal(sigma) }),
        EditInstruction::Grayscale => json!({ "grayscale": true }),
        EditInstruction::Rotate(degrees) => json!({ "rotate": degrees }),
        EditInstruction::Flip(axis) => {
            json!({ "flip": match axis { FlipAxis::Horizontal => "HORIZONTAL", FlipAxis::Vertical => "VERTICAL" } })
        }
        EditInstruction::Crop {
            x,
            y,
            width,
            height,
        } => json!({ "crop": { "x": x, "y": y, "width": width, "height": height } }),
        EditInstruction::Resize { width, height, fit } => {
            json!({ "resize": { "width": width, "height": height, "fit": fit_name(fit) } })
        }
    }
}

/// An f32 as the shortest decimal that reads back to it: 1.2, not 1.2000000476837158.
fn decimal(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

fn fit_name(fit: Fit) -> &'static str {
    match fit {
        Fit::Contain => "CONTAIN",
        Fit::Cover => "COVER",
        Fit::Fill => "FILL",
    }
}

/// Parses instructions in the outside form; errors name the 0-based index.
pub fn from_json(value: &Value) -> Result<Vec<EditInstruction>, String> {
    let items = value.as_array().ok_or("instructions must be a list")?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| one_from_json(item).map_err(|e| format!("instruction {index}: {e}")))
        .collect()
}

fn one_from_json(item: &Value) -> Result<EditInstruction, String> {
    let object = item
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or("each instruction is an object with exactly one key")?;
    let (key, value) = object.iter().next().expect("one entry");
    let factor = || {
        value
            .as_f64()
            .map(|f| f as f32)
            .ok_or_else(|| format!("`{key}` takes a number"))
    };
    let uint = |v: &Value, name: &str| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("`{name}` must be a whole number of pixels"))
    };
    Ok(match key.as_str() {
        "brightness" => EditInstruction::Brightness(factor()?),
        "contrast" => EditInstruction::Contrast(factor()?),
        "saturation" => EditInstruction::Saturation(factor()?),
        "sharpness" => EditInstruction::Sharpness(factor()?),
        "blur" => EditInstruction::Blur { sigma: factor()? },
        "grayscale" if value == &Value::Bool(true) => EditInstruction::Grayscale,
        "grayscale" => return Err("`grayscale` takes `true`".into()),
        "rotate" => EditInstruction::Rotate(
            value
                .as_u64()
                .and_then(|d| u16::try_from(d).ok())
                .ok_or("`rotate` takes 90, 180 or 270")?,
        ),
        "flip" => EditInstruction::Flip(match value.as_str() {
            Some("HORIZONTAL") => FlipAxis::Horizontal,
            Some("VERTICAL") => FlipAxis::Vertical,
            _ => return Err("`flip` takes HORIZONTAL or VERTICAL".into()),
        }),
        "crop" => EditInstruction::Crop {
            x: uint(&value["x"], "x")?,
            y: uint(&value["y"], "y")?,
            width: uint(&value["width"], "width")?,
            height: uint(&value["height"], "height")?,
        },
        "resize" => {
            let optional = |name: &str| match &value[name] {
                Value::Null => Ok(None),
                v => uint(v, name).map(Some),
            };
            EditInstruction::Resize {
                width: optional("width")?,
                height: optional("height")?,
                fit: match value["fit"].as_str() {
                    None | Some("CONTAIN") => Fit::Contain,
                    Some("COVER") => Fit::Cover,
                    Some("FILL") => Fit::Fill,
                    Some(other) => return Err(format!("unknown fit `{other}`")),
                },
            }
        }
        other => return Err(format!("unknown operation `{other}`")),
    })
}

/// The JSON schema of the planner's tool arguments: `{ "instructions": [...] }`.
pub fn planner_schema() -> Value {
    let number = |description: &str| json!({ "type": "number", "description": description });
    let pixels = json!({ "type": "integer", "minimum": 0 });
    let one = |key: &str, schema: Value| json!({ "type": "object", "properties": { key: schema }, "required": [key], "additionalProperties": false });
    json!({
        "type": "object",
        "properties": {
            "instructions": {
                "type": "array",
                "maxItems": super::MAX_INSTRUCTIONS,
                "description": "Edits applied in order.",
                "items": { "anyOf": [
                    one("brightness", number("Factor: 1 unchanged, 0 black, 2 twice as bright. 0 to 10.")),
                    one("contrast", number("Factor: 1 unchanged, 0 flat grey. 0 to 10.")),
                    one("saturation", number("Factor: 1 unchanged, 0 greyscale. 0 to 10.")),
                    one("sharpness", number("Factor: 1 unchanged, 0 softened, 2 sharpened. 0 to 10.")),
                    one("blur", number("Gaussian blur radius (sigma) in pixels, above 0, at most 100.")),
                    one("grayscale", json!({ "type": "boolean", "enum": [true] })),
                    one("rotate", json!({ "type": "integer", "enum": [90, 180, 270], "description": "Degrees clockwise." })),
                    one("flip", json!({ "type": "string", "enum": ["HORIZONTAL", "VERTICAL"] })),
                    one("crop", json!({ "type": "object", "properties": { "x": pixels, "y": pixels, "width": pixels, "height": pixels },
                        "required": ["x", "y", "width", "height"], "additionalProperties": false })),
                    one("resize", json!({ "type": "object", "properties": { "width": pixels, "height": pixels,
                        "fit": { "type": "string", "enum": ["CONTAIN", "COVER", "FILL"] } }, "additionalProperties": false })),
                ] }
            }
        },
        "required": ["instructions"],
        "additionalProperties": false
    })
}

/// Short names for metrics: `image.edit.<name>`.
pub fn operation_name(instruction: &EditInstruction) -> &'static str {
    match instruction {
        EditInstruction::Brightness(_) => "brightness",
        EditInstruction::Contrast(_) => "contrast",
        EditInstruction::Saturation(_) => "saturation",
        EditInstruction::Sharpness(_) => "sharpness",
        EditInstruction::Blur { .. } => "blur",
        EditInstruction::Grayscale => "grayscale",
        EditInstruction::Rotate(_) => "rotate",
        EditInstruction::Flip(_) => "flip",
        EditInstruction::Crop { .. } => "crop",
        EditInstruction::Resize { .. } => "resize",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outside_form_round_trips() {
        let instructions = vec![
            EditInstruction::Brightness(1.25),
            EditInstruction::Grayscale,
            EditInstruction::Rotate(90),
            EditInstruction::Flip(FlipAxis::Vertical),
            EditInstruction::Crop {
                x: 1,
                y: 2,
                width: 30,
                height: 40,
            },
            EditInstruction::Resize {
                width: Some(100),
                height: None,
                fit: Fit::Cover,
            },
            EditInstruction::Blur { sigma: 2.0 },
        ];
        assert_eq!(from_json(&to_json(&instructions)).unwrap(), instructions);
    }

    #[test]
    fn malformed_instructions_name_their_index() {
        for (value, expected) in [
            (
                json!([{ "brightness": 1.0 }, { "explode": 1 }]),
                "instruction 1: unknown operation `explode`",
            ),
            (
                json!([{ "brightness": "bright" }]),
                "instruction 0: `brightness` takes a number",
            ),
            (
                json!([{ "brightness": 1.0, "contrast": 1.0 }]),
                "instruction 0: each instruction is an object with exactly one key",
            ),
            (
                json!([{ "crop": { "x": -1, "y": 0, "width": 1, "height": 1 } }]),
                "instruction 0: `x` must be a whole number of pixels",
            ),
            (
                json!([{ "grayscale": false }]),
                "instruction 0: `grayscale` takes `true`",
            ),
        ] {
            assert_eq!(from_json(&value).unwrap_err(), expected);
        }
        assert!(from_json(&json!({ "brightness": 1 })).is_err());
    }
}
