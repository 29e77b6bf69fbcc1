#include "confusion_plot.h"

#include <cairo.h>

#include <algorithm>
#include <fmt/format.h>
#include <memory>

#include "reckon/runtime/error.h"

namespace reckon::cli {
namespace {

constexpr double kCell = 40, kPad = 12, kFont = 12;

struct Canvas {
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface{nullptr, cairo_surface_destroy};
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr{nullptr, cairo_destroy};
};

double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

void centred_text(cairo_t* cr, const std::string& s, double x, double y) {
  cairo_move_to(cr, x - text_width(cr, s) / 2, y + kFont / 3);
  cairo_show_text(cr, s.c_str());
}

// White through to a deep blue as the share grows.
void shade(cairo_t* cr, double share) {
  cairo_set_source_rgb(cr, 1 - 0.92 * share, 1 - 0.75 * share, 1 - 0.35 * share);
}

void draw_cells(cairo_t* cr, const std::vector<std::int64_t>& counts, std::size_t C, double x0, double y0) {
  for (std::size_t t = 0; t < C; ++t) {
    std::int64_t row = 0;
    for (std::size_t p = 0; p < C; ++p) row += counts[t * C + p];
    for (std::size_t p = 0; p < C; ++p) {
      const std::int64_t n = counts[t * C + p];
      const double share = row > 0 ? static_cast<double>(n) / static_cast<double>(row) : 0.0;
      const double x = x0 + static_cast<double>(p) * kCell, y = y0 + static_cast<double>(t) * kCell;
      shade(cr, share);
      cairo_rectangle(cr, x, y, kCell, kCell);
      cairo_fill_preserve(cr);
      cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
      cairo_set_line_width(cr, 0.5);
      cairo_stroke(cr);
      if (n == 0) continue;
      const double ink = share > 0.5 ? 1.0 : 0.0;
      cairo_set_source_rgb(cr, ink, ink, ink);
      centred_text(cr, fmt::format("{}", n), x + kCell / 2, y + kCell / 2);
    }
  }
}

void draw_labels(cairo_t* cr, const std::vector<std::string>& names, double x0, double y0) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double at = static_cast<double>(i) * kCell + kCell / 2;
    cairo_move_to(cr, x0 - kPad / 2 - text_width(cr, names[i]), y0 + at + kFont / 3);
    cairo_show_text(cr, names[i].c_str());
    cairo_save(cr);  // column labels read upwards, ending just above their column
    cairo_move_to(cr, x0 + at + kFont / 3, y0 - kPad / 2);
    cairo_rotate(cr, -1.5707963267948966);
    cairo_show_text(cr, names[i].c_str());
    cairo_restore(cr);
  }
}

}  // namespace

void write_confusion_png(const std::string& path, const std::string& title, const std::vector<std::string>& names,
                         const std::vector<std::int64_t>& counts) {
  const std::size_t C = names.size();
  RECKON_CHECK_ARG(C > 0 && counts.size() == C * C, "confusion plot: ", counts.size(), " counts for ", C, " classes");
  Canvas probe;  // measures the labels before the image's size is known
  probe.surface.reset(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1));
  probe.cr.reset(cairo_create(probe.surface.get()));
  cairo_set_font_size(probe.cr.get(), kFont);
  double label = 0;
  for (const std::string& n : names) label = std::max(label, text_width(probe.cr.get(), n));
  const double x0 = kPad + kFont + kPad + label + kPad, y0 = kPad + 3 * kFont + label + kPad;
  const double width = std::max(x0 + static_cast<double>(C) * kCell + kPad, text_width(probe.cr.get(), title) + 2 * kPad);
  const double height = y0 + static_cast<double>(C) * kCell + kPad;
  Canvas c;
  c.surface.reset(cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(width), static_cast<int>(height)));
  c.cr.reset(cairo_create(c.surface.get()));
  cairo_t* cr = c.cr.get();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_font_size(cr, kFont);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_move_to(cr, kPad, kPad + kFont);
  cairo_show_text(cr, title.c_str());
  draw_labels(cr, names, x0, y0);
  draw_cells(cr, counts, C, x0, y0);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_save(cr);  // the axis names
  cairo_move_to(cr, kPad + kFont, y0 + static_cast<double>(C) * kCell / 2 + text_width(cr, "true class") / 2);
  cairo_rotate(cr, -1.5707963267948966);
  cairo_show_text(cr, "true class");
  cairo_restore(cr);
  centred_text(cr, "predicted class", x0 + static_cast<double>(C) * kCell / 2, kPad + 2 * kFont);
  const cairo_status_t status = cairo_surface_write_to_png(c.surface.get(), path.c_str());
  if (status != CAIRO_STATUS_SUCCESS) RECKON_THROW(StatusCode::kIoError, path, ": cannot write the PNG (", cairo_status_to_string(status), ")");
}

}  // namespace reckon::cli
