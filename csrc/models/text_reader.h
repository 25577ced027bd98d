// Streams whitespace-separated tokens from a byte range of a text file, one line = one sentence,
// through a fixed-size buffer: memory does not grow with the file, nor with the length of a line.
// Used by the vocabulary counter and by each word2vec worker, which reads its own byte range.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"

namespace fastnlp {

// ASCII whitespace separates tokens: space, \t, \n, \v, \f, \r ('\n' also ends the sentence).
inline bool is_space_byte(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Size in bytes of a file; std::runtime_error naming the file when it cannot be opened.
int64_t text_file_size(const std::string& path);

class TextReader {
 public:
  // The lines that START at a byte offset in [begin, end) of `path` (the last one may run past
  // end), so ranges that tile a file read every line exactly once.
  TextReader(const std::string& path, int64_t begin, int64_t end, int64_t buffer_bytes = 1 << 20);
  ~TextReader();
  TextReader(const TextReader&) = delete;
  TextReader& operator=(const TextReader&) = delete;

  // Calls sink.token(std::string_view) for each token (the view lives until the call returns) and
  // sink.end_line(int64_t consumed) after each line, also a last line without '\n'; `consumed`
  // is the bytes of [begin, end) read so far. end_line returning false stops the reading.
  template <typename Sink>
  void run(Sink& sink);

  // The file offset of a token passed to sink.token, valid during that call.
  int64_t offset_of(std::string_view token) const { return base_ + (token.data() - buf_.data()); }

 private:
  // Reads more bytes after buf_[0, len_); false at the end of the file.
  bool fill();
  int64_t consumed(int64_t abs_pos) const {
    const int64_t c = abs_pos - begin_;
    return c < 0 ? 0 : (c > end_ - begin_ ? end_ - begin_ : c);
  }

  std::string path_;
  std::FILE* f_ = nullptr;
  int64_t begin_, end_;
  std::vector<char> buf_;
  int64_t len_ = 0;   // valid bytes in buf_
  int64_t base_ = 0;  // file offset of buf_[0]
};

template <typename Sink>
void TextReader::run(Sink& sink) {
  if (begin_ >= end_) return;
  int64_t i = 0;
  if (begin_ > 0) {
    // buf_[0] is byte begin - 1: the range's first line starts after the first '\n' from there.
    for (;;) {
      if (i == len_) {
        base_ += len_;
        len_ = 0;
        i = 0;
        if (!fill()) return;
      }
      if (buf_[i++] == '\n') break;
    }
  }
  int64_t line_start = base_ + i;
  if (line_start >= end_) return;
  int64_t token_start = -1;  // index in buf_ of the token being read, -1 between tokens
  for (;;) {
    if (i == len_) {
      if (token_start >= 0) {
        // Keep the partial token: move it to the front (growing the buffer for a huge token).
        const int64_t keep = len_ - token_start;
        if (keep == static_cast<int64_t>(buf_.size())) buf_.resize(buf_.size() * 2);
        std::memmove(buf_.data(), buf_.data() + token_start, static_cast<size_t>(keep));
        base_ += token_start;
        len_ = keep;
        i = keep;
        token_start = 0;
      } else {
        base_ += len_;
        len_ = 0;
        i = 0;
      }
      if (!fill()) break;
    }
    const unsigned char c = static_cast<unsigned char>(buf_[i]);
    if (is_space_byte(c)) {
      if (token_start >= 0) {
        sink.token(std::string_view(buf_.data() + token_start, static_cast<size_t>(i - token_start)));
        token_start = -1;
      }
      if (c == '\n') {
        line_start = base_ + i + 1;
        if (!sink.end_line(consumed(line_start))) return;
        if (line_start >= end_) return;
      }
    } else if (token_start < 0) {
      token_start = i;
    }
    ++i;
  }
  // End of file: a last line without '\n'.
  if (token_start >= 0)
    sink.token(std::string_view(buf_.data() + token_start, static_cast<size_t>(len_ - token_start)));
  if (base_ + len_ > line_start) sink.end_line(consumed(base_ + len_));
}

}  // namespace fastnlp
