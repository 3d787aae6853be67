#include "io/pickle.hpp"

#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "embed/error.hpp"

namespace embed::io {

namespace {

// ---- values --------------------------------------------------------------------------------------

struct Obj;
using Ref = std::shared_ptr<Obj>;

enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

struct Obj {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;       // Int; Storage/Tensor: index into the result tables
  double f = 0;
  std::string s;       // Str, Bytes; Global: "module.name"
  std::vector<Ref> items;                    // Tuple, List
  std::vector<std::pair<Ref, Ref>> dict;     // Dict, in insertion order
};

// The globals a state dict needs, and what each becomes.
enum class Callable { RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState, OrderedDict,
                      Size, StorageType };

struct StorageInfo {
  const char* name;
  bool supported;
  DType dtype;
  const char* torch_dtype;
};

const StorageInfo* storage_info(const std::string& cls) {
  static const std::map<std::string, StorageInfo> table = {
      {"FloatStorage", {"FloatStorage", true, DType::F32, "float32"}},
      {"HalfStorage", {"HalfStorage", true, DType::F16, "float16"}},
      {"BFloat16Storage", {"BFloat16Storage", true, DType::BF16, "bfloat16"}},
      {"DoubleStorage", {"DoubleStorage", true, DType::F64, "float64"}},
      {"LongStorage", {"LongStorage", true, DType::I64, "int64"}},
      {"IntStorage", {"IntStorage", true, DType::I32, "int32"}},
      {"ShortStorage", {"ShortStorage", true, DType::I16, "int16"}},
      {"CharStorage", {"CharStorage", true, DType::I8, "int8"}},
      {"ByteStorage", {"ByteStorage", true, DType::U8, "uint8"}},
      {"BoolStorage", {"BoolStorage", true, DType::BOOL, "bool"}},
      {"UntypedStorage", {"UntypedStorage", true, DType::U8, "uint8"}},
      {"ComplexFloatStorage", {"ComplexFloatStorage", false, DType::F32, "complex64"}},
      {"ComplexDoubleStorage", {"ComplexDoubleStorage", false, DType::F32, "complex128"}},
      {"QInt8Storage", {"QInt8Storage", false, DType::F32, "qint8"}},
      {"QUInt8Storage", {"QUInt8Storage", false, DType::F32, "quint8"}},
      {"QInt32Storage", {"QInt32Storage", false, DType::F32, "qint32"}},
      {"QUInt4x2Storage", {"QUInt4x2Storage", false, DType::F32, "quint4x2"}},
      {"QUInt2x4Storage", {"QUInt2x4Storage", false, DType::F32, "quint2x4"}},
  };
  auto it = table.find(cls);
  return it == table.end() ? nullptr : &it->second;
}

std::string hex_byte(unsigned v) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[(v >> 4) & 0xf] + digits[v & 0xf];
}

// Names of the opcodes this reader knows but refuses, for a clearer message.
const char* refused_opcode_name(unsigned op) {
  switch (op) {
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'P': return "PERSID";
    case 'g': return "GET";
    case 'p': return "PUT";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

// Enough for any real state dict; stops hostile files from exhausting memory with tiny opcodes.
constexpr std::size_t kMaxObjects = std::size_t{1} << 24;
constexpr std::size_t kMaxMemo = std::size_t{1} << 24;

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, std::string where) : data_(data), where_(std::move(where)) {}

  ~Unpickler() {
    // Break every reference between objects first: no recursive destruction (deep nesting) and no
    // leaks (cycles built through the memo).
    for (auto& o : arena_) {
      o->items.clear();
      o->dict.clear();
    }
  }

  PickledStateDict run() {
    Ref top = parse();
    return extract(top);
  }

 private:
  // ---- errors ----
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(where_ + ": corrupt data.pkl: " + msg + " (opcode " + op_label() + " at byte " +
                std::to_string(op_pos_) + ")");
  }
  // The opcode being read, for error messages (named only when one fails: not a string per opcode).
  std::string op_label() const {
    if (op_ == kNoOpcode) return "?";
    if (op_ == kEndOfData) return "end of data";
    const unsigned op = static_cast<unsigned>(op_);
    if (const char* n = opcode_name(op)) return std::string(n) + " (" + hex_byte(op) + ")";
    return hex_byte(op);
  }
  [[noreturn]] void refuse_global(const std::string& name) const {
    throw Error(where_ + ": refusing to load: the pickle references the global '" + name +
                "'; only tensor-rebuilding globals are allowed (torch._utils._rebuild_tensor_v2, "
                "torch.*Storage, collections.OrderedDict)");
  }

  // ---- reading ----
  const std::byte* take(std::size_t n) {
    if (data_.size() - pos_ < n) fail("the pickle ends early (truncated file?)");
    const std::byte* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  unsigned u8() { return std::to_integer<unsigned>(*take(1)); }
  uint64_t le(std::size_t n) {
    const std::byte* p = take(n);
    uint64_t v = 0;
    for (std::size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(std::to_integer<unsigned>(p[k])) << (8 * k);
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > data_.size() - pos_) fail("a string of " + std::to_string(n) + " bytes runs past the end of the pickle");
    const std::byte* p = take(static_cast<std::size_t>(n));
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::string line() {
    std::size_t start = pos_;
    while (pos_ < data_.size() && data_[pos_] != std::byte{'\n'}) ++pos_;
    if (pos_ >= data_.size()) fail("a newline-terminated name runs past the end of the pickle");
    std::string s(reinterpret_cast<const char*>(data_.data() + start), pos_ - start);
    ++pos_;
    return s;
  }

  // ---- objects ----
  Ref make(Kind k) {
    if (arena_.size() >= kMaxObjects) fail("too many objects for a state dict");
    auto o = std::make_shared<Obj>();
    o->kind = k;
    arena_.push_back(o);
    return o;
  }
  Ref make_int(int64_t v) {
    Ref o = make(Kind::Int);
    o->i = v;
    return o;
  }
  Ref make_str(Kind k, std::string s) {
    Ref o = make(k);
    o->s = std::move(s);
    return o;
  }

  void push(Ref o) { stack_.push_back(std::move(o)); }
  Ref pop() {
    if (stack_.size() <= floor()) fail("the stack is empty");
    Ref o = std::move(stack_.back());
    stack_.pop_back();
    return o;
  }
  Ref& top() {
    if (stack_.size() <= floor()) fail("the stack is empty");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // Everything above the topmost MARK, which is removed.
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Ref> out(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                         std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return out;
  }

  void memo_put(uint64_t idx) {
    if (memo_.size() >= kMaxMemo && !memo_.count(idx)) fail("too many memo entries");
    memo_[idx] = top();
  }
  Ref memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo entry " + std::to_string(idx) + " was never stored");
    return it->second;
  }

  void set_item(const Ref& dict, Ref key, Ref value) {
    if (dict->kind != Kind::Dict) fail(std::string("SETITEM on a ") + kind_name(dict->kind) + ", not a dict");
    for (auto& kv : dict->dict) {
      if (same_key(*kv.first, *key)) {
        kv.second = std::move(value);
        return;
      }
    }
    dict->dict.emplace_back(std::move(key), std::move(value));
  }
  static bool same_key(const Obj& a, const Obj& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
      case Kind::Str: case Kind::Bytes: case Kind::Global: return a.s == b.s;
      case Kind::Int: return a.i == b.i;
      case Kind::Bool: return a.b == b.b;
      case Kind::None: return true;
      default: return &a == &b;
    }
  }

  // ---- globals ----
  Ref global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    Callable c;
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") c = Callable::RebuildTensorV2;
    else if (module == "torch._utils" && name == "_rebuild_tensor") c = Callable::RebuildTensor;
    else if (module == "torch._utils" && name == "_rebuild_parameter") c = Callable::RebuildParameter;
    else if (module == "torch._utils" && name == "_rebuild_parameter_with_state") c = Callable::RebuildParameterWithState;
    else if (module == "collections" && name == "OrderedDict") c = Callable::OrderedDict;
    else if (module == "torch" && name == "Size") c = Callable::Size;
    else if ((module == "torch" || module == "torch.storage") && name.size() > 7 &&
             name.compare(name.size() - 7, 7, "Storage") == 0) {
      const StorageInfo* info = storage_info(name);
      if (!info) refuse_global(full);
      if (!info->supported)
        throw Error(where_ + ": unsupported dtype: the file holds a " + full + " (" + info->torch_dtype +
                    "); only float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8 and bool "
                    "tensors can be read");
      c = Callable::StorageType;
    } else {
      refuse_global(full);
    }
    Ref o = make_str(Kind::Global, full);
    o->i = static_cast<int64_t>(c);
    return o;
  }

  static Callable callable_of(const Obj& g) { return static_cast<Callable>(g.i); }

  // ('storage', torch.FloatStorage, key, location, numel)
  Ref persistent_load(const Ref& pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::Str ||
        pid->items[0]->s != "storage")
      fail("a persistent id that is not ('storage', type, key, location, numel)");
    const Obj& type = *pid->items[1];
    const Obj& key = *pid->items[2];
    const Obj& loc = *pid->items[3];
    const Obj& numel = *pid->items[4];
    if (type.kind != Kind::Global || callable_of(type) != Callable::StorageType)
      fail("a persistent id whose storage type is not a torch.*Storage");
    if (key.kind != Kind::Str) fail("a persistent id whose key is not a string");
    if (loc.kind != Kind::Str) fail("a persistent id whose location is not a string");
    if (numel.kind != Kind::Int || numel.i < 0) fail("a persistent id whose element count is not a non-negative int");
    const std::string cls = type.s.substr(type.s.rfind('.') + 1);
    const StorageInfo* info = storage_info(cls);
    auto it = storage_by_key_.find(key.s);
    std::size_t idx;
    if (it != storage_by_key_.end()) {
      idx = it->second;
      const PickledStorage& prev = result_.storages[idx];
      if (prev.dtype != info->dtype || prev.numel != numel.i)
        fail("storage '" + key.s + "' is referenced as both " + prev.type_name + " and " + type.s);
    } else {
      idx = result_.storages.size();
      result_.storages.push_back({info->dtype, type.s, key.s, loc.s, numel.i});
      storage_by_key_.emplace(key.s, idx);
    }
    Ref o = make(Kind::Storage);
    o->i = static_cast<int64_t>(idx);
    return o;
  }

  std::vector<int64_t> int_tuple(const Ref& t, const char* what) {
    if (t->kind != Kind::Tuple && t->kind != Kind::List) fail(std::string("a tensor ") + what + " that is not a tuple");
    std::vector<int64_t> out;
    for (const auto& v : t->items) {
      if (v->kind != Kind::Int) fail(std::string("a tensor ") + what + " with a non-integer entry");
      out.push_back(v->i);
    }
    return out;
  }

  Ref rebuild_tensor(const std::vector<Ref>& args, std::size_t min_args, std::size_t max_args) {
    if (args.size() < min_args || args.size() > max_args)
      fail("_rebuild_tensor called with " + std::to_string(args.size()) + " arguments");
    if (args[0]->kind != Kind::Storage) fail("_rebuild_tensor called on a " + std::string(kind_name(args[0]->kind)) + ", not a storage");
    if (args[1]->kind != Kind::Int || args[1]->i < 0) fail("_rebuild_tensor with a storage offset that is not a non-negative int");
    PickledTensor t;
    t.storage = static_cast<std::size_t>(args[0]->i);
    t.storage_offset = args[1]->i;
    t.size = int_tuple(args[2], "size");
    t.stride = int_tuple(args[3], "stride");
    if (t.size.size() != t.stride.size())
      fail("a tensor with " + std::to_string(t.size.size()) + " sizes but " + std::to_string(t.stride.size()) + " strides");
    Ref o = make(Kind::Tensor);
    o->i = static_cast<int64_t>(result_.tensors.size());
    result_.tensors.push_back(std::move(t));
    return o;
  }

  Ref reduce(const Ref& callable, const Ref& args_obj) {
    if (callable->kind != Kind::Global) fail(std::string("REDUCE calls a ") + kind_name(callable->kind) + ", not a global");
    if (args_obj->kind != Kind::Tuple) fail("REDUCE arguments are not a tuple");
    const auto& args = args_obj->items;
    switch (callable_of(*callable)) {
      case Callable::RebuildTensorV2: return rebuild_tensor(args, 6, 7);
      case Callable::RebuildTensor: return rebuild_tensor(args, 4, 4);
      case Callable::RebuildParameter:
      case Callable::RebuildParameterWithState:
        if (args.size() < 1 || args[0]->kind != Kind::Tensor) fail("_rebuild_parameter called without a tensor");
        return args[0];
      case Callable::OrderedDict: {
        Ref d = make(Kind::Dict);
        if (args.empty()) return d;
        if (args.size() == 1 && (args[0]->kind == Kind::List || args[0]->kind == Kind::Tuple)) {
          for (const auto& pair : args[0]->items) {
            if ((pair->kind != Kind::Tuple && pair->kind != Kind::List) || pair->items.size() != 2)
              fail("OrderedDict built from something other than (key, value) pairs");
            set_item(d, pair->items[0], pair->items[1]);
          }
          return d;
        }
        fail("OrderedDict called with unexpected arguments");
      }
      case Callable::Size: {
        if (args.size() != 1) fail("torch.Size called with unexpected arguments");
        Ref t = make(Kind::Tuple);
        for (int64_t v : int_tuple(args[0], "size")) t->items.push_back(make_int(v));
        return t;
      }
      case Callable::StorageType:
        fail("a storage type called directly (only persistent ids may name storages)");
    }
    fail("unknown callable");
  }

  // ---- the loop ----
  Ref parse() {
    for (;;) {
      op_pos_ = pos_;
      op_ = kNoOpcode;
      if (pos_ >= data_.size()) {
        op_ = kEndOfData;
        fail("the pickle ends without a STOP opcode (truncated file?)");
      }
      const unsigned op = u8();
      op_ = static_cast<int>(op);
      switch (op) {
        case 0x80: {  // PROTO
          unsigned v = u8();
          if (v < 2 || v > 5) fail("pickle protocol " + std::to_string(v) + " (expected 2 to 5)");
          break;
        }
        case 0x95: le(8); break;  // FRAME: a length hint only
        case '.': {               // STOP
          if (!marks_.empty()) fail("STOP with an open MARK");
          if (stack_.size() != 1) fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
          return stack_.back();
        }
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '0': pop(); break;                             // POP
        case '1': pop_mark(); break;                        // POP_MARK
        case '2': push(top()); break;                       // DUP
        case 'N': push(make(Kind::None)); break;
        case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
          Ref o = make(Kind::Bool);
          o->b = op == 0x88;
          push(o);
          break;
        }
        case 'J': push(make_int(static_cast<int32_t>(le(4)))); break;  // BININT
        case 'K': push(make_int(static_cast<int64_t>(le(1)))); break;  // BININT1
        case 'M': push(make_int(static_cast<int64_t>(le(2)))); break;  // BININT2
        case 0x8a: case 0x8b: {  // LONG1, LONG4
          uint64_t n = op == 0x8a ? le(1) : le(4);
          if (n > 8) fail("an integer of " + std::to_string(n) + " bytes (more than 64 bits)");
          uint64_t v = n ? le(static_cast<std::size_t>(n)) : 0;
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
          push(make_int(static_cast<int64_t>(v)));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          const std::byte* p = take(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | std::to_integer<uint64_t>(p[k]);
          Ref o = make(Kind::Float);
          std::memcpy(&o->f, &bits, 8);
          push(o);
          break;
        }
        case 'X': push(make_str(Kind::Str, bytes(le(4)))); break;     // BINUNICODE
        case 0x8c: push(make_str(Kind::Str, bytes(le(1)))); break;    // SHORT_BINUNICODE
        case 0x8d: push(make_str(Kind::Str, bytes(le(8)))); break;    // BINUNICODE8
        case 'T': push(make_str(Kind::Str, bytes(le(4)))); break;     // BINSTRING (py2 str)
        case 'U': push(make_str(Kind::Str, bytes(le(1)))); break;     // SHORT_BINSTRING
        case 'B': push(make_str(Kind::Bytes, bytes(le(4)))); break;   // BINBYTES
        case 'C': push(make_str(Kind::Bytes, bytes(le(1)))); break;   // SHORT_BINBYTES
        case 0x8e: push(make_str(Kind::Bytes, bytes(le(8)))); break;  // BINBYTES8
        case ')': push(make(Kind::Tuple)); break;                     // EMPTY_TUPLE
        case 't': {                                                   // TUPLE
          Ref o = make(Kind::Tuple);
          o->items = pop_mark();
          push(o);
          break;
        }
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          const std::size_t n = op - 0x84;
          Ref o = make(Kind::Tuple);
          o->items.resize(n);
          for (std::size_t k = n; k-- > 0;) o->items[k] = pop();
          push(o);
          break;
        }
        case ']': push(make(Kind::List)); break;  // EMPTY_LIST
        case 'l': {                               // LIST
          Ref o = make(Kind::List);
          o->items = pop_mark();
          push(o);
          break;
        }
        case 'a': {  // APPEND
          Ref v = pop();
          Ref& l = top();
          if (l->kind != Kind::List) fail(std::string("APPEND to a ") + kind_name(l->kind) + ", not a list");
          l->items.push_back(std::move(v));
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Ref> vs = pop_mark();
          Ref& l = top();
          if (l->kind != Kind::List) fail(std::string("APPENDS to a ") + kind_name(l->kind) + ", not a list");
          for (auto& v : vs) l->items.push_back(std::move(v));
          break;
        }
        case '}': push(make(Kind::Dict)); break;  // EMPTY_DICT
        case 'd': {                               // DICT
          std::vector<Ref> kv = pop_mark();
          if (kv.size() % 2) fail("DICT with an odd number of items");
          Ref d = make(Kind::Dict);
          for (std::size_t k = 0; k < kv.size(); k += 2) set_item(d, kv[k], kv[k + 1]);
          push(d);
          break;
        }
        case 's': {  // SETITEM
          Ref v = pop();
          Ref k = pop();
          set_item(top(), std::move(k), std::move(v));
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Ref> kv = pop_mark();
          if (kv.size() % 2) fail("SETITEMS with an odd number of items");
          Ref d = top();
          for (std::size_t k = 0; k < kv.size(); k += 2) set_item(d, kv[k], kv[k + 1]);
          break;
        }
        case 'c': {  // GLOBAL
          std::string module = line();
          std::string name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Ref name = pop();
          Ref module = pop();
          if (module->kind != Kind::Str || name->kind != Kind::Str) fail("STACK_GLOBAL with non-string names");
          push(global(module->s, name->s));
          break;
        }
        case 'i': {  // INST: module and name inline; never allowed, but say which global it was
          std::string module = line();
          std::string name = line();
          refuse_global(module + "." + name);
        }
        case 'R': {  // REDUCE
          Ref args = pop();
          Ref callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 'b': {  // BUILD: state for dicts (OrderedDict._metadata) and tensors is dropped
          Ref state = pop();
          Ref& o = top();
          if (o->kind != Kind::Dict && o->kind != Kind::Tensor)
            fail(std::string("BUILD on a ") + kind_name(o->kind));
          break;
        }
        case 'Q': {  // BINPERSID
          Ref pid = pop();
          push(persistent_load(pid));
          break;
        }
        case 'h': push(memo_get(le(1))); break;  // BINGET
        case 'j': push(memo_get(le(4))); break;  // LONG_BINGET
        case 'q': memo_put(le(1)); break;        // BINPUT
        case 'r': memo_put(le(4)); break;        // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
        default: {
          if (const char* n = refused_opcode_name(op))
            throw Error(where_ + ": unsupported pickle opcode " + n + " (" + hex_byte(op) + ") at byte " +
                        std::to_string(op_pos_) + " of data.pkl; a state dict saved by torch.save does not use it");
          throw Error(where_ + ": corrupt data.pkl: unknown pickle opcode " + hex_byte(op) + " at byte " +
                      std::to_string(op_pos_));
        }
      }
    }
  }

  static const char* opcode_name(unsigned op) {
    switch (op) {
      case 0x80: return "PROTO";
      case 0x95: return "FRAME";
      case '.': return "STOP";
      case '(': return "MARK";
      case '0': return "POP";
      case '1': return "POP_MARK";
      case '2': return "DUP";
      case 'N': return "NONE";
      case 0x88: return "NEWTRUE";
      case 0x89: return "NEWFALSE";
      case 'J': return "BININT";
      case 'K': return "BININT1";
      case 'M': return "BININT2";
      case 0x8a: return "LONG1";
      case 0x8b: return "LONG4";
      case 'G': return "BINFLOAT";
      case 'X': return "BINUNICODE";
      case 0x8c: return "SHORT_BINUNICODE";
      case 0x8d: return "BINUNICODE8";
      case 'T': return "BINSTRING";
      case 'U': return "SHORT_BINSTRING";
      case 'B': return "BINBYTES";
      case 'C': return "SHORT_BINBYTES";
      case 0x8e: return "BINBYTES8";
      case ')': return "EMPTY_TUPLE";
      case 't': return "TUPLE";
      case 0x85: return "TUPLE1";
      case 0x86: return "TUPLE2";
      case 0x87: return "TUPLE3";
      case ']': return "EMPTY_LIST";
      case 'l': return "LIST";
      case 'a': return "APPEND";
      case 'e': return "APPENDS";
      case '}': return "EMPTY_DICT";
      case 'd': return "DICT";
      case 's': return "SETITEM";
      case 'u': return "SETITEMS";
      case 'c': return "GLOBAL";
      case 0x93: return "STACK_GLOBAL";
      case 'i': return "INST";
      case 'R': return "REDUCE";
      case 'b': return "BUILD";
      case 'Q': return "BINPERSID";
      case 'h': return "BINGET";
      case 'j': return "LONG_BINGET";
      case 'q': return "BINPUT";
      case 'r': return "LONG_BINPUT";
      case 0x94: return "MEMOIZE";
      default: return nullptr;
    }
  }

  // ---- the result ----
  bool collect(const Ref& dict, const std::string& prefix_for_errors) {
    bool any = false;
    for (const auto& [k, v] : dict->dict) {
      if (v->kind != Kind::Tensor) continue;
      if (k->kind != Kind::Str)
        throw Error(where_ + ": a tensor" + prefix_for_errors + " is stored under a " + kind_name(k->kind) +
                    " key; expected tensor names (strings)");
      result_.entries.emplace_back(k->s, static_cast<std::size_t>(v->i));
      any = true;
    }
    return any;
  }

  PickledStateDict extract(const Ref& top) {
    if (top->kind == Kind::Tensor)
      throw Error(where_ + ": the file holds a single tensor, not a state dict (a dict of named tensors)");
    if (top->kind != Kind::Dict)
      throw Error(where_ + ": the file holds a " + std::string(kind_name(top->kind)) +
                  ", not a state dict (a dict of named tensors)");
    if (!collect(top, "")) {
      for (const char* wrapper : {"state_dict", "model"}) {
        for (const auto& [k, v] : top->dict) {
          if (k->kind == Kind::Str && k->s == wrapper && v->kind == Kind::Dict &&
              collect(v, std::string(" in '") + wrapper + "'"))
            return std::move(result_);
        }
      }
      throw Error(where_ + ": the state dict holds no tensors");
    }
    return std::move(result_);
  }

  std::span<const std::byte> data_;
  std::string where_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  static constexpr int kNoOpcode = -1, kEndOfData = -2;
  int op_ = kNoOpcode;  // the opcode being read (or one of the two above)
  std::vector<Ref> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
  std::vector<Ref> arena_;
  std::map<std::string, std::size_t> storage_by_key_;
  PickledStateDict result_;
};

}  // namespace

PickledStateDict unpickle_state_dict(std::span<const std::byte> pkl, const std::string& where) {
  Unpickler u(pkl, where);
  return u.run();
}

}  // namespace embed::io
