//! The offline provider: an honest description computed from the pixels (size,
//! orientation, dominant colours, brightness, sharpness), with the same facts as tags,
//! labelled with its own model name so nobody mistakes it for a vision model.

use image::{DynamicImage, GenericImageView as _};

use super::{AiError, Description, Usage};

pub(super) const MODEL: &str = "imagegraph-offline-1";
/// Analysis runs on a copy at most this large; enough for colour and sharpness.
const ANALYSIS_SIDE: u32 = 256;

const PALETTE: [(&str, [f32; 3]); 12] = [
    ("black", [20.0, 20.0, 20.0]),
    ("white", [240.0, 240.0, 240.0]),
    ("grey", [128.0, 128.0, 128.0]),
    ("red", [200.0, 30.0, 30.0]),
    ("orange", [240.0, 140.0, 30.0]),
    ("yellow", [235.0, 220.0, 50.0]),
    ("green", [50.0, 160.0, 60.0]),
    ("cyan", [40.0, 200.0, 210.0]),
    ("blue", [40.0, 70.0, 200.0]),
    ("purple", [130.0, 50.0, 170.0]),
    ("pink", [240.0, 150.0, 190.0]),
    ("brown", [120.0, 75.0, 40.0]),
];

#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Offline {
    pub async fn describe(&self, image: &[u8]) -> Result<Description, AiError> {
        let bytes = image.to_vec();
        let facts = tokio::task::spawn_blocking(move || {
            let decoded = image::load_from_memory(&bytes)
                .map_err(|e| AiError::BadResponse(format!("unreadable image: {e}")))?;
            Ok::<_, AiError>(Facts::of(&decoded))
        })
        .await
        .map_err(|_| AiError::Unavailable("the description task failed".into()))??;
        Ok(Description {
            text: facts.text(),
            tags: facts.tags(),
            usage: Usage {
                model: MODEL.to_owned(),
                prompt_tokens: 0,
                completion_tokens: 0,
            },
        })
    }
}

/// What the pixels show, measured once for both the text and the tags.
struct Facts {
    width: u32,
    height: u32,
    orientation: &'static str,
    /// The palette names covering at least a tenth of the pixels, most first (at most 3).
    colours: Vec<&'static str>,
    /// Mean luma, 0 to 255.
    luma: f64,
    /// Variance of the Laplacian of the luma.
    sharpness: f64,
}

impl Facts {
    fn of(image: &DynamicImage) -> Self {
        let (width, height) = image.dimensions();
        let orientation = match width.cmp(&height) {
            std::cmp::Ordering::Greater => "landscape",
            std::cmp::Ordering::Less => "portrait",
            std::cmp::Ordering::Equal => "square",
        };
        // Shrink only: `thumbnail` would also enlarge a small image.
        let small = if width.max(height) > ANALYSIS_SIDE {
            image.thumbnail(ANALYSIS_SIDE, ANALYSIS_SIDE).into_rgb8()
        } else {
            image.to_rgb8()
        };
        let mut counts = [0usize; PALETTE.len()];
        let mut luma_sum = 0.0f64;
        for pixel in small.pixels() {
            let [r, g, b] = pixel.0.map(f32::from);
            luma_sum += f64::from(0.299 * r + 0.587 * g + 0.114 * b);
            let nearest = PALETTE
                .iter()
                .enumerate()
                .min_by(|(_, (_, a)), (_, (_, b2))| {
                    distance(*a, [r, g, b]).total_cmp(&distance(*b2, [r, g, b]))
                })
                .map(|(i, _)| i)
                .unwrap_or(0);
            counts[nearest] += 1;
        }
        let total = small.pixels().len().max(1);
        let mut ranked: Vec<(usize, usize)> = counts
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, n)| n * 10 >= total)
            .collect();
        ranked.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        Self {
            width,
            height,
            orientation,
            colours: ranked.iter().take(3).map(|(i, _)| PALETTE[*i].0).collect(),
            luma: luma_sum / total as f64,
            sharpness: laplacian_variance(&small),
        }
    }

    fn brightness(&self) -> &'static str {
        match self.luma {
            l if l < 70.0 => "dark",
            l if l > 180.0 => "bright",
            _ => "moderately lit",
        }
    }

    fn text(&self) -> String {
        let Self {
            width,
            height,
            orientation,
            ..
        } = self;
        let sharpness = match self.sharpness {
            v if v > 500.0 => "sharp detail",
            v if v > 60.0 => "soft detail",
            _ => "little fine detail",
        };
        let colour_text = match self.colours.as_slice() {
            [] => "a mix of colours".to_owned(),
            [one] => format!("mostly {one}"),
            [init @ .., last] => format!("mostly {} and {last}", init.join(", ")),
        };
        format!(
            "A {width}x{height} {orientation} image, {colour_text}, {}, with {sharpness}.",
            self.brightness()
        )
    }

    /// The dominant colours, the orientation, `bright` or `dark` (nothing between),
    /// and `sharp` or `soft`.
    fn tags(&self) -> Vec<String> {
        let mut tags: Vec<&str> = self.colours.clone();
        tags.push(self.orientation);
        if let brightness @ ("dark" | "bright") = self.brightness() {
            tags.push(brightness);
        }
        tags.push(if self.sharpness > 500.0 {
            "sharp"
        } else {
            "soft"
        });
        crate::text::tags(tags)
    }
}

#[cfg(test)]
fn describe_pixels(image: &DynamicImage) -> String {
    Facts::of(image).text()
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Variance of the 4-neighbour Laplacian of the luma: high for crisp edges.
fn laplacian_variance(image: &image::RgbImage) -> f64 {
    let (w, h) = image.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let luma = |x: u32, y: u32| {
        let [r, g, b] = image.get_pixel(x, y).0.map(f64::from);
        0.299 * r + 0.587 * g + 0.114 * b
    };
    let (mut sum, mut sum_sq, mut n) = (0.0, 0.0, 0.0);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let l = luma(x - 1, y) + luma(x + 1, y) + luma(x, y - 1) + luma(x, y + 1)
                - 4.0 * luma(x, y);
            sum += l;
            sum_sq += l * l;
            n += 1.0;
        }
    }
    sum_sq / n - (sum / n).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn describes_what_the_pixels_show() {
        let red = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 200, Rgb([210, 25, 25])));
        let text = describe_pixels(&red);
        assert!(
            text.starts_with("A 300x200 landscape image, mostly red"),
            "{text}"
        );
        assert!(text.contains("little fine detail"), "{text}");

        let checker = DynamicImage::ImageRgb8(RgbImage::from_fn(100, 150, |x, y| {
            if (x / 2 + y / 2) % 2 == 0 {
                Rgb([255, 255, 255])
            } else {
                Rgb([0, 0, 0])
            }
        }));
        let text = describe_pixels(&checker);
        assert!(
            text.contains("portrait") && text.contains("sharp detail"),
            "{text}"
        );
        assert!(text.contains("white") && text.contains("black"), "{text}");

        let night = DynamicImage::ImageRgb8(RgbImage::from_pixel(50, 50, Rgb([15, 15, 30])));
        assert!(describe_pixels(&night).contains("dark"));
    }

    #[test]
    fn tags_say_what_the_text_says() {
        let red = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 200, Rgb([210, 25, 25])));
        assert_eq!(Facts::of(&red).tags(), ["red", "landscape", "soft"]);
        let checker = DynamicImage::ImageRgb8(RgbImage::from_fn(100, 150, |x, y| {
            if (x / 2 + y / 2) % 2 == 0 {
                Rgb([255, 255, 255])
            } else {
                Rgb([0, 0, 0])
            }
        }));
        let tags = Facts::of(&checker).tags();
        assert!(tags.contains(&"portrait".to_owned()) && tags.contains(&"sharp".to_owned()));
        assert!(tags.contains(&"white".to_owned()) && tags.contains(&"black".to_owned()));
        let night = DynamicImage::ImageRgb8(RgbImage::from_pixel(50, 50, Rgb([15, 15, 30])));
        assert_eq!(
            Facts::of(&night).tags(),
            ["black", "square", "dark", "soft"]
        );
        let snow = DynamicImage::ImageRgb8(RgbImage::from_pixel(40, 40, Rgb([250, 250, 250])));
        assert!(Facts::of(&snow).tags().contains(&"bright".to_owned()));
    }
}
