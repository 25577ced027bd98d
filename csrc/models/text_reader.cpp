// TextReader's file handling (the token loop is a template in text_reader.h).
#include "models/text_reader.h"

#include <sys/types.h>

namespace fastnlp {

int64_t text_file_size(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(str_cat("cannot open '", path, "': ", std::strerror(errno)));
  int rc = fseeko(f, 0, SEEK_END);
  const int64_t size = rc == 0 ? static_cast<int64_t>(ftello(f)) : -1;
  std::fclose(f);
  if (size < 0) throw std::runtime_error(str_cat("cannot seek in '", path, "': ", std::strerror(errno)));
  return size;
}

TextReader::TextReader(const std::string& path, int64_t begin, int64_t end, int64_t buffer_bytes)
    : path_(path), begin_(begin), end_(end), buf_(static_cast<size_t>(buffer_bytes < 16 ? 16 : buffer_bytes)) {
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_) throw std::runtime_error(str_cat("cannot open '", path, "': ", std::strerror(errno)));
  // From begin > 0 the byte before the range is read too: it tells whether a line starts at begin.
  base_ = begin > 0 ? begin - 1 : 0;
  if (base_ > 0 && fseeko(f_, static_cast<off_t>(base_), SEEK_SET) != 0) {
    std::fclose(f_);
    f_ = nullptr;
    throw std::runtime_error(str_cat("cannot seek to byte ", base_, " of '", path, "': ", std::strerror(errno)));
  }
}

TextReader::~TextReader() {
  if (f_) std::fclose(f_);
}

bool TextReader::fill() {
  const size_t room = buf_.size() - static_cast<size_t>(len_);
  const size_t n = std::fread(buf_.data() + len_, 1, room, f_);
  if (n == 0) {
    if (std::ferror(f_)) throw std::runtime_error(str_cat("error reading '", path_, "': ", std::strerror(errno)));
    return false;
  }
  len_ += static_cast<int64_t>(n);
  return true;
}

}  // namespace fastnlp
