/*
 * Strip-by-strip JPEG decoding and encoding over libjpeg's scanline API, for
 * crates/imaging/src/edit/stream.rs and the whole-image decodes of
 * crates/imaging/src/jpeg.rs (through src/jpeg_ffi.rs, the only Rust that calls
 * this file).
 *
 * Why C: the TurboJPEG API the `turbojpeg` crate wraps decodes or encodes whole
 * images only, and that crate cannot ask it to stop at the first warning
 * (TJPARAM_STOPONWARNING): a file warned about early would still be decoded to
 * its end. Streaming needs jpeg_read_scanlines / jpeg_write_scanlines. This
 * file is linked against the same static libturbojpeg the `turbojpeg` crate uses
 * (one libjpeg in the binary), and sets every parameter exactly as TurboJPEG 3.1's
 * tj3Decompress8 / tj3Compress8 do (src/turbojpeg.c, src/turbojpeg-mp.c), so the
 * pixels decoded and the bytes encoded are the same as the whole-image paths'.
 *
 * Rules kept here:
 *  - Every libjpeg error AND every warning (msg_level -1: premature end of data,
 *    corrupt data, extraneous bytes...) longjmps back to the entry point that
 *    called libjpeg, which returns an error code, so a file warned about early
 *    is not decoded to its end. The caller then gives up on libjpeg-turbo and
 *    has zune-jpeg decode the file, which refuses bad files as before.
 *    After any error an object is "failed": every later call returns
 *    IG_JS_FAILED until it is freed.
 *  - Nothing is ever printed (libjpeg's default output_message writes stderr).
 *  - No allocation here grows with the image except libjpeg's own: its strip
 *    buffers (row width x a few rows) and, for multi-scan (progressive) files,
 *    the whole-image coefficient buffer, capped by `max_memory` (libjpeg then
 *    fails with JERR_NO_BACKING_STORE: IG_JS_MEMORY). Output goes into the caller's buffer.
 *  - No longjmp ever crosses a Rust frame: libjpeg calls back only into this
 *    file, and every setjmp is in the entry point that calls libjpeg.
 */

#include <limits.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include "jerror.h"
#include "jpeglib.h"

/* Return codes; mirrored in src/jpeg_ffi.rs. */
#define IG_JS_OK 0
#define IG_JS_ERROR 1       /* libjpeg reported an error */
#define IG_JS_WARNING 2     /* libjpeg reported a warning (treated as an error) */
#define IG_JS_UNSUPPORTED 3 /* not a file this path handles */
#define IG_JS_ARGUMENT 4    /* a size or count out of range */
#define IG_JS_NOMEM 5
#define IG_JS_FAILED 6      /* an earlier call failed; only free is allowed */
#define IG_JS_SCANS 7       /* more progressive scans than the limit */
#define IG_JS_MEMORY 8      /* over max_memory, or malloc failed, inside libjpeg */

/* Most rows one read or write call takes: the row pointers live on the stack. */
#define IG_JS_MAX_ROWS 64

struct guard {
  struct jpeg_error_mgr pub; /* first: libjpeg casts cinfo->err to this */
  jmp_buf jump;
  int code;
};

/* Running out of memory says nothing about the file (the whole-image decode has
   no max_memory and may well decode it), so it has a code of its own. */
static void on_error(j_common_ptr cinfo) {
  struct guard *g = (struct guard *)cinfo->err;
  if (g->code == IG_JS_OK)
    g->code = (cinfo->err->msg_code == JERR_NO_BACKING_STORE ||
               cinfo->err->msg_code == JERR_OUT_OF_MEMORY)
                  ? IG_JS_MEMORY
                  : IG_JS_ERROR;
  longjmp(g->jump, 1);
}

/* level -1 is a warning (recoverable corruption): an error here, as in the
   whole-image paths, which refuse any file libjpeg warns about. Levels >= 0 are
   trace messages, ignored. */
static void on_message(j_common_ptr cinfo, int level) {
  struct guard *g = (struct guard *)cinfo->err;
  if (level < 0) {
    g->code = IG_JS_WARNING;
    longjmp(g->jump, 1);
  }
}

static void no_output(j_common_ptr cinfo) { (void)cinfo; }

static void guard_init(struct guard *g) {
  jpeg_std_error(&g->pub);
  g->pub.error_exit = on_error;
  g->pub.emit_message = on_message;
  g->pub.output_message = no_output;
  g->code = IG_JS_OK;
}

/* a * b into *out, or 0 when it overflows size_t. */
static int mul_ok(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}

/* ------------------------------------------------------------------ decoder */

struct ig_js_decoder {
  struct jpeg_decompress_struct cinfo; /* first: the progress monitor casts */
  struct guard err;
  struct jpeg_progress_mgr progress;
  int scan_limit;
  int failed;
  int finished;
};

/* As TurboJPEG's TJPARAM_SCANLIMIT: a guard against files of thousands of tiny
   progressive scans, each of which costs a pass over the coefficients. */
static void on_progress(j_common_ptr cinfo) {
  struct ig_js_decoder *d = (struct ig_js_decoder *)cinfo;
  if (d->cinfo.input_scan_number > d->scan_limit) {
    d->err.code = IG_JS_SCANS;
    longjmp(d->err.jump, 1);
  }
}

/*
 * Reads the header of `data[0..len)` and starts decompressing, scaled by
 * 1/scale_denom (1, 2, 4 or 8), as tj3Decompress8 does with TJPF_RGB for a
 * three-component file and TJPF_GRAY for a one-component one (fancy
 * upsampling, accurate integer IDCT). Only 8-bit, Huffman-coded YCbCr, RGB or
 * grey files are taken. For multi-scan files this reads the whole entropy-coded
 * stream. max_memory 0 leaves libjpeg's memory unbounded, as TurboJPEG does.
 * `data` must stay valid until ig_js_decoder_free. On success *out owns the
 * decoder and *width, *height, *components are the output's; on failure *out is
 * NULL and nothing is left allocated.
 *
 * Renamed (was ig_js_decoder_new) when its arguments changed, as any entry point
 * must be: worktrees sharing one cargo target directory can link an object
 * compiled from another worktree's copy of this file (cargo judges the build
 * script's output fresh by mtime), and a stale object must fail to link rather
 * than be called with other arguments.
 */
int ig_js_decoder_open(const uint8_t *data, size_t len, uint32_t scan_limit,
                      size_t max_memory, uint32_t scale_denom,
                      struct ig_js_decoder **out, uint32_t *width,
                      uint32_t *height, uint32_t *components) {
  struct ig_js_decoder *d;
  int code, grey;

  if (out == NULL) return IG_JS_ARGUMENT;
  *out = NULL;
  if (data == NULL || width == NULL || height == NULL || components == NULL ||
      len == 0 || len > ULONG_MAX || scan_limit == 0 || scan_limit > INT_MAX ||
      (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 &&
       scale_denom != 8))
    return IG_JS_ARGUMENT;
  d = (struct ig_js_decoder *)calloc(1, sizeof(*d));
  if (d == NULL) return IG_JS_NOMEM;
  guard_init(&d->err);
  d->cinfo.err = &d->err.pub;
  d->scan_limit = (int)scan_limit;
  d->progress.progress_monitor = on_progress;

  if (setjmp(d->err.jump)) {
    code = d->err.code;
    jpeg_destroy_decompress(&d->cinfo);
    free(d);
    return code == IG_JS_OK ? IG_JS_ERROR : code;
  }
  jpeg_create_decompress(&d->cinfo);
  d->cinfo.progress = &d->progress;
  /* Caps libjpeg's whole-image (virtual) arrays; max_memory_to_use is a long. */
  d->cinfo.mem->max_memory_to_use =
      max_memory > (size_t)LONG_MAX ? LONG_MAX : (long)max_memory;
  jpeg_mem_src(&d->cinfo, data, (unsigned long)len);
  jpeg_read_header(&d->cinfo, TRUE);
  grey = d->cinfo.num_components == 1 &&
         d->cinfo.jpeg_color_space == JCS_GRAYSCALE;
  if (d->cinfo.data_precision != 8 || d->cinfo.arith_code ||
      (!grey && (d->cinfo.num_components != 3 ||
                 (d->cinfo.jpeg_color_space != JCS_YCbCr &&
                  d->cinfo.jpeg_color_space != JCS_RGB)))) {
    d->err.code = IG_JS_UNSUPPORTED;
    longjmp(d->err.jump, 1);
  }
  d->cinfo.out_color_space = grey ? JCS_GRAYSCALE : JCS_EXT_RGB;
  d->cinfo.do_fancy_upsampling = TRUE;
  d->cinfo.dct_method = JDCT_ISLOW;
  d->cinfo.scale_num = 1;
  d->cinfo.scale_denom = scale_denom;
  jpeg_start_decompress(&d->cinfo);
  /* TJSCALED: each side rounded up. */
  if (d->cinfo.output_components != (grey ? 1 : 3) ||
      d->cinfo.output_width !=
          (d->cinfo.image_width + scale_denom - 1) / scale_denom ||
      d->cinfo.output_height !=
          (d->cinfo.image_height + scale_denom - 1) / scale_denom) {
    d->err.code = IG_JS_UNSUPPORTED;
    longjmp(d->err.jump, 1);
  }
  *width = d->cinfo.output_width;
  *height = d->cinfo.output_height;
  *components = (uint32_t)d->cinfo.output_components;
  *out = d;
  return IG_JS_OK;
}

/* The libjpeg calls of ig_js_decoder_read, out of its frame so that no local
   of the frame holding the setjmp changes between the setjmp and a longjmp. */
static void read_rows(struct ig_js_decoder *d, JSAMPROW *row_pointers,
                      JDIMENSION want) {
  JDIMENSION done = 0;
  while (done < want) {
    JDIMENSION got =
        jpeg_read_scanlines(&d->cinfo, row_pointers + done, want - done);
    /* With a memory source libjpeg never suspends; zero rows would loop. */
    if (got == 0) {
      d->err.code = IG_JS_ERROR;
      longjmp(d->err.jump, 1);
    }
    done += got;
  }
  if (d->cinfo.output_scanline == d->cinfo.output_height) {
    jpeg_finish_decompress(&d->cinfo);
    d->finished = 1;
  }
}

/*
 * Decodes the next min(max_rows, rows left) rows into `buf` (`buf_len` bytes,
 * rows of width * components bytes, tightly packed) and sets *rows to their
 * number. After
 * the last row it finishes the decompression (reading up to EOI), so a warning
 * there fails this call too: only a call that returns IG_JS_OK with the last
 * row means the whole file decoded cleanly.
 */
int ig_js_decoder_read(struct ig_js_decoder *d, uint8_t *buf, size_t buf_len,
                       uint32_t max_rows, uint32_t *rows) {
  JSAMPROW row_pointers[IG_JS_MAX_ROWS];
  size_t row_len, need;
  JDIMENSION want, i;

  if (d == NULL || rows == NULL) return IG_JS_ARGUMENT;
  *rows = 0;
  if (d->failed) return IG_JS_FAILED;
  if (buf == NULL || max_rows == 0 || max_rows > IG_JS_MAX_ROWS)
    return IG_JS_ARGUMENT;
  if (d->finished) return IG_JS_OK;
  if (!mul_ok((size_t)d->cinfo.output_width,
              (size_t)d->cinfo.output_components, &row_len) ||
      !mul_ok(row_len, max_rows, &need) || need > buf_len)
    return IG_JS_ARGUMENT;
  want = d->cinfo.output_height - d->cinfo.output_scanline;
  if (want > max_rows) want = max_rows;
  for (i = 0; i < want; i++) row_pointers[i] = buf + (size_t)i * row_len;

  if (setjmp(d->err.jump)) {
    d->failed = 1;
    return d->err.code == IG_JS_OK ? IG_JS_ERROR : d->err.code;
  }
  read_rows(d, row_pointers, want);
  *rows = want;
  return IG_JS_OK;
}

void ig_js_decoder_free(struct ig_js_decoder *d) {
  if (d == NULL) return;
  /* jpeg_destroy never calls error_exit; no jump needed. */
  jpeg_destroy_decompress(&d->cinfo);
  free(d);
}

/* ------------------------------------------------------------------ encoder */

struct ig_js_encoder {
  struct jpeg_compress_struct cinfo;
  struct guard err;
  struct jpeg_destination_mgr dest;
  uint8_t *out;
  size_t cap;
  int failed;
};

static void dest_init(j_compress_ptr cinfo) { (void)cinfo; }

/* The caller's buffer is the worst case libjpeg-turbo can write
   (tj3JPEGBufSize); running out of it is an error, never a reallocation. */
static boolean dest_full(j_compress_ptr cinfo) {
  ERREXIT(cinfo, JERR_BUFFER_SIZE);
  return FALSE;
}

static void dest_term(j_compress_ptr cinfo) { (void)cinfo; }

/*
 * Starts compressing a width x height 8-bit RGB image into `out[0..cap)` with
 * exactly tj3Compress8's settings for TJPF_RGB, TJSAMP_420 and `quality`:
 * jpeg_set_defaults, jpeg_set_quality(quality, TRUE), accurate integer DCT,
 * YCbCr, Huffman tables not optimised, baseline, 2x2/1x1/1x1 sampling, and a
 * JFIF header. `out` must stay valid until ig_js_encoder_free.
 */
int ig_js_encoder_new(uint8_t *out, size_t cap, uint32_t width,
                      uint32_t height, int quality,
                      struct ig_js_encoder **encoder) {
  struct ig_js_encoder *e;
  int code;

  if (encoder == NULL) return IG_JS_ARGUMENT;
  *encoder = NULL;
  if (out == NULL || cap == 0 || width == 0 || height == 0 ||
      width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION ||
      quality < 1 || quality > 100)
    return IG_JS_ARGUMENT;
  e = (struct ig_js_encoder *)calloc(1, sizeof(*e));
  if (e == NULL) return IG_JS_NOMEM;
  guard_init(&e->err);
  e->cinfo.err = &e->err.pub;
  e->out = out;
  e->cap = cap;

  if (setjmp(e->err.jump)) {
    code = e->err.code;
    jpeg_destroy_compress(&e->cinfo);
    free(e);
    return code == IG_JS_OK ? IG_JS_ERROR : code;
  }
  jpeg_create_compress(&e->cinfo);
  e->dest.init_destination = dest_init;
  e->dest.empty_output_buffer = dest_full;
  e->dest.term_destination = dest_term;
  e->dest.next_output_byte = out;
  e->dest.free_in_buffer = cap;
  e->cinfo.dest = &e->dest;

  e->cinfo.image_width = width;
  e->cinfo.image_height = height;
  e->cinfo.data_precision = 8;
  /* setCompDefaults() in turbojpeg.c, in its order. */
  e->cinfo.in_color_space = JCS_EXT_RGB;
  e->cinfo.input_components = 3;
  jpeg_set_defaults(&e->cinfo);
  e->cinfo.restart_interval = 0;
  e->cinfo.restart_in_rows = 0;
  e->cinfo.X_density = 1;
  e->cinfo.Y_density = 1;
  e->cinfo.density_unit = 0;
  e->cinfo.mem->max_memory_to_use = 0;
  jpeg_set_quality(&e->cinfo, quality, TRUE);
  e->cinfo.dct_method = JDCT_ISLOW;
  jpeg_set_colorspace(&e->cinfo, JCS_YCbCr);
  e->cinfo.optimize_coding = FALSE;
  e->cinfo.arith_code = FALSE;
  e->cinfo.comp_info[0].h_samp_factor = 2;
  e->cinfo.comp_info[1].h_samp_factor = 1;
  e->cinfo.comp_info[2].h_samp_factor = 1;
  e->cinfo.comp_info[0].v_samp_factor = 2;
  e->cinfo.comp_info[1].v_samp_factor = 1;
  e->cinfo.comp_info[2].v_samp_factor = 1;
  jpeg_start_compress(&e->cinfo, TRUE);
  *encoder = e;
  return IG_JS_OK;
}

/* The libjpeg calls of ig_js_encoder_write, out of its frame (see
   read_rows). */
static void write_rows(struct ig_js_encoder *e, JSAMPROW *row_pointers,
                       JDIMENSION nrows) {
  JDIMENSION done = 0;
  while (done < nrows) {
    JDIMENSION put =
        jpeg_write_scanlines(&e->cinfo, row_pointers + done, nrows - done);
    if (put == 0) { /* never with this destination; guards the loop */
      e->err.code = IG_JS_ERROR;
      longjmp(e->err.jump, 1);
    }
    done += put;
  }
}

/* Compresses the next `nrows` rows of `rows` (`len` bytes, rows of width * 3
   bytes, tightly packed). More rows than the image has left is an error. */
int ig_js_encoder_write(struct ig_js_encoder *e, const uint8_t *rows,
                        size_t len, uint32_t nrows) {
  JSAMPROW row_pointers[IG_JS_MAX_ROWS];
  size_t row_len, need;
  JDIMENSION i;

  if (e == NULL) return IG_JS_ARGUMENT;
  if (e->failed) return IG_JS_FAILED;
  if (rows == NULL || nrows == 0 || nrows > IG_JS_MAX_ROWS ||
      nrows > e->cinfo.image_height - e->cinfo.next_scanline)
    return IG_JS_ARGUMENT;
  if (!mul_ok((size_t)e->cinfo.image_width, 3, &row_len) ||
      !mul_ok(row_len, nrows, &need) || need > len)
    return IG_JS_ARGUMENT;
  /* libjpeg takes non-const rows but only reads them when compressing. */
  for (i = 0; i < nrows; i++)
    row_pointers[i] = (JSAMPROW)(uintptr_t)(rows + (size_t)i * row_len);

  if (setjmp(e->err.jump)) {
    e->failed = 1;
    return e->err.code == IG_JS_OK ? IG_JS_ERROR : e->err.code;
  }
  write_rows(e, row_pointers, nrows);
  return IG_JS_OK;
}

/* Writes the end of the file once every row is in; *written is the JPEG's
   length in the caller's buffer. */
int ig_js_encoder_finish(struct ig_js_encoder *e, size_t *written) {
  if (e == NULL || written == NULL) return IG_JS_ARGUMENT;
  *written = 0;
  if (e->failed) return IG_JS_FAILED;
  if (e->cinfo.next_scanline != e->cinfo.image_height) return IG_JS_ARGUMENT;
  if (setjmp(e->err.jump)) {
    e->failed = 1;
    return e->err.code == IG_JS_OK ? IG_JS_ERROR : e->err.code;
  }
  jpeg_finish_compress(&e->cinfo);
  e->failed = 1; /* finished: nothing more may be written */
  *written = e->cap - e->dest.free_in_buffer;
  return IG_JS_OK;
}

void ig_js_encoder_free(struct ig_js_encoder *e) {
  if (e == NULL) return;
  jpeg_destroy_compress(&e->cinfo);
  free(e);
}
