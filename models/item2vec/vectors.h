// Item vectors: word2vec's text and binary formats (what gensim's KeyedVectors.load_word2vec_format reads and
// writes), and cosine top-k queries over them - similar items and items that fit a context - batched on either
// device (a matrix product against the normalised table, then a top-k selection per query).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/memory.h"

namespace reckon::item2vec {

struct KeyedVectors {
  std::vector<std::string> tokens;  // row order (reckon writes items by decreasing count, as word2vec.c does)
  std::int64_t dim = 0;
  std::vector<float> vectors;  // [size, dim]
  std::int64_t size() const { return static_cast<std::int64_t>(tokens.size()); }
  std::int32_t lookup(const std::string& token) const;  // -1 when absent
  void build_index();

 private:
  std::unordered_map<std::string, std::int32_t> index_;
};

// Text: "V D" then one "token v_1 ... v_D" line per item. Binary: "V D\n" then per item "token " and D
// little-endian float32, then '\n'. Written through a temporary file and renamed.
void save_word2vec(const KeyedVectors& vectors, const std::string& path, bool binary);
// Either format (binary is recognised by non-text bytes after the first token). Malformed files - a bad header,
// a short or non-numeric row, a truncated binary record, duplicate tokens - throw kDataError naming the file and
// the line or record.
KeyedVectors load_word2vec(const std::string& path);

struct Neighbor {
  std::int32_t id;
  float score;  // cosine similarity
};

// The normalised table on a context's device, and batched top-k queries against it.
class SimilarityIndex {
 public:
  // rows: use the first `rows` items only (0: all), e.g. the 30,000 most frequent for word analogies.
  SimilarityIndex(Context& ctx, const KeyedVectors& vectors, std::int64_t rows = 0);

  // Top k by cosine for each query vector ([Q, dim], normalised here), leaving out each query's `exclude` ids.
  std::vector<std::vector<Neighbor>> top_k(const std::vector<float>& queries, int k,
                                           const std::vector<std::vector<std::int32_t>>& exclude) const;
  // Items most similar to each item (the item itself excluded).
  std::vector<std::vector<Neighbor>> most_similar(const std::vector<std::int32_t>& items, int k) const;
  // Items that fit each context: the mean of the context's normalised vectors as the query, context excluded.
  std::vector<std::vector<Neighbor>> recommend(const std::vector<std::vector<std::int32_t>>& contexts, int k) const;
  // The same query, leaving out each context's `exclude` ids instead (empty: nothing left out).
  std::vector<std::vector<Neighbor>> recommend(const std::vector<std::vector<std::int32_t>>& contexts, int k,
                                               const std::vector<std::vector<std::int32_t>>& exclude) const;

  std::int64_t rows() const { return rows_; }
  std::int64_t dim() const { return dim_; }
  const std::vector<float>& normalized() const { return host_; }  // [rows, dim]

 private:
  Context* ctx_;
  std::int64_t rows_, dim_;
  std::vector<float> host_;
  Tensor table_;
};

}  // namespace reckon::item2vec
