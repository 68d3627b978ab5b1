using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Checkpoints;

/// <summary>
/// One tensor's entry in a safetensors header.
/// </summary>
/// <param name="Name">The tensor name (Hugging Face parameter name for model files).</param>
/// <param name="DType">The safetensors dtype code: <c>F32</c>, <c>F16</c>, <c>BF16</c>, <c>F64</c>, <c>I64</c>,
/// <c>I32</c>, <c>I16</c>, <c>I8</c>, <c>U8</c> or <c>BOOL</c>.</param>
/// <param name="Shape">The shape; empty for a scalar.</param>
/// <param name="Begin">First byte of the data, counted from the end of the header (as stored in the file).</param>
/// <param name="End">One past the last byte, counted like <paramref name="Begin"/>.</param>
public sealed record TensorInfo(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Bytes the tensor occupies in the file; validated to equal element size × element count.</summary>
    public long ByteCount => End - Begin;
}

/// <summary>
/// Reads and writes the safetensors format (8-byte little-endian header length, UTF-8 JSON header, raw
/// little-endian data). Written here instead of using a pickle-capable loader so that opening an untrusted
/// checkpoint can never execute code, and so that every malformed input becomes a
/// <see cref="CheckpointException"/> before any large allocation or native call.
/// </summary>
public static class SafeTensors
{
    /// <summary>
    /// Headers larger than this are refused: real headers are a few hundred bytes per tensor, so anything bigger
    /// is corruption or an attack, and reading it would allocate the whole claimed size.
    /// </summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Bytes per chunk when a tensor is converted, moved between devices, or too big for one span (over 2 GB): the
    /// only memory loading and saving need beyond the tensors themselves, small next to any real model.
    /// </summary>
    private static int LargeCopyChunk => SpanLimitOverride is long l ? (int)Math.Max(1, l / 3) : 1 << 22;

    /// <summary>
    /// Test seam: called with each tensor's name just before its data is written, so tests can make a write fail
    /// half-way and check that the previous file survives. Thread-static so parallel tests cannot interfere.
    /// </summary>
    [ThreadStatic] internal static Action<string>? OnTensorWriting;

    /// <summary>
    /// Test seam: lowers the size above which tensors are copied in chunks instead of through one span, so the
    /// over-2-GB path runs in tests without gigabytes of data.
    /// </summary>
    [ThreadStatic] internal static long? SpanLimitOverride;

    private static long SpanLimit => SpanLimitOverride ?? int.MaxValue;

    /// <summary>
    /// Reads and validates only the header, so callers can list names, shapes and dtypes of a multi-gigabyte file
    /// (or pick a subset to load) without touching the data.
    /// </summary>
    /// <param name="path">The .safetensors file.</param>
    /// <returns>The tensors (in file order) and the <c>__metadata__</c> strings (empty when absent).</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated, a pickle, or its header is invalid.</exception>
    public static (IReadOnlyDictionary<string, TensorInfo> tensors, IReadOnlyDictionary<string, string> metadata) ReadHeader(string path)
    {
        using var fs = OpenRead(path);
        var h = ParseHeader(path, fs);
        return (h.Tensors, h.Metadata);
    }

    /// <summary>
    /// Loads tensors, streaming each one from its offset so memory use stays at the size of the result even for
    /// files of many gigabytes.
    /// </summary>
    /// <param name="path">The .safetensors file.</param>
    /// <param name="dtype">When given (must be a floating type), floating tensors are converted to it; integer and
    /// bool tensors keep their type because ids and masks must not become floats.</param>
    /// <param name="device">Where the tensors are created; CPU when null.</param>
    /// <param name="filter">When given, only names for which it returns true are read.</param>
    /// <returns>Name → tensor, in file order. The caller owns (and disposes) the tensors.</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated, a pickle, or its header is invalid.</exception>
    public static Dictionary<string, Tensor> Load(string path, ScalarType? dtype = null, Device? device = null, Func<string, bool>? filter = null)
    {
        if (dtype is ScalarType d && !torch.is_floating_point(d))
            throw new ArgumentException($"dtype must be a floating type (integer tensors are never converted), got {d}", nameof(dtype));
        using var fs = OpenRead(path);
        var h = ParseHeader(path, fs);
        var result = new Dictionary<string, Tensor>(h.Tensors.Count, StringComparer.Ordinal);
        try
        {
            foreach (var info in h.Tensors.Values)
            {
                if (filter != null && !filter(info.Name)) continue;
                result.Add(info.Name, ReadTensor(path, fs, h.DataStart, info, dtype, device));
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>
    /// Writes tensors the way the reference (Rust <c>safetensors</c>) writer does, so files are interchangeable
    /// with Python and byte-identical to it: tensors ordered by descending dtype size then by name (keeping every
    /// tensor aligned), compact JSON header padded with spaces to a multiple of 8 bytes. The file is replaced
    /// atomically, so a crash or error never leaves a half-written checkpoint under the final name.
    /// </summary>
    /// <param name="path">Destination file; its folder is created if needed.</param>
    /// <param name="tensors">Name → tensor. Any device and layout; each is written in its own dtype.</param>
    /// <param name="metadata">The <c>__metadata__</c> strings. <c>"format": "pt"</c> is added when absent because
    /// transformers refuses files without it.</param>
    /// <exception cref="CheckpointException">A name is repeated or reserved, or a dtype cannot be stored.</exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => SaveCore(path, tensors, metadata, null);

    // ------------------------------------------------------------------------------------------ writing

    private sealed record Entry(string Name, Tensor Tensor, DTypeInfo Target, long[] Shape, long Bytes);

    /// <summary>Plans the tensors of one file: byte sizes (in the dtype they will be stored in) and the names.</summary>
    internal static List<(string name, long bytes)> Plan(IEnumerable<KeyValuePair<string, Tensor>> tensors, ScalarType? floatDtype)
        => Entries(tensors, floatDtype).Select(e => (e.Name, e.Bytes)).ToList();

    /// <summary>
    /// Save with an optional conversion of floating tensors to <paramref name="floatDtype"/>, done one tensor at a
    /// time while writing so that converting a whole model never needs a second copy of it in memory.
    /// </summary>
    /// <returns>Total bytes of tensor data written.</returns>
    internal static long SaveCore(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata, ScalarType? floatDtype)
    {
        EnsureLittleEndian();
        var entries = Entries(tensors, floatDtype);
        entries.Sort((a, b) =>
        {
            int c = b.Target.Rank.CompareTo(a.Target.Rank);
            return c != 0 ? c : CompareUtf8(a.Name, b.Name);
        });

        var meta = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (metadata != null) foreach (var (k, v) in metadata) meta[k] = v ?? throw new ArgumentException($"metadata value of '{k}' is null", nameof(metadata));
        meta.TryAdd("format", "pt");

        var sb = new StringBuilder("{\"__metadata__\":{");
        bool first = true;
        foreach (var (k, v) in meta)
        {
            if (!first) sb.Append(',');
            first = false;
            AppendJsonString(sb, k).Append(':');
            AppendJsonString(sb, v);
        }
        sb.Append('}');
        long offset = 0;
        foreach (var e in entries)
        {
            sb.Append(',');
            AppendJsonString(sb, e.Name).Append(":{\"dtype\":\"").Append(e.Target.Code).Append("\",\"shape\":[");
            sb.AppendJoin(',', e.Shape.Select(s => s.ToString(CultureInfo.InvariantCulture)));
            sb.Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',');
            offset += e.Bytes;
            sb.Append(offset.ToString(CultureInfo.InvariantCulture)).Append("]}");
        }
        sb.Append('}');
        byte[] json = Encoding.UTF8.GetBytes(sb.ToString());
        int padded = (json.Length + 7) / 8 * 8;
        byte[] header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.CopyTo(header, 8);
        header.AsSpan(8 + json.Length).Fill((byte)' ');

        AtomicFile.Write(path, s =>
        {
            s.Write(header);
            foreach (var e in entries)
            {
                OnTensorWriting?.Invoke(e.Name);
                WriteTensor(s, e);
            }
        });
        return offset;
    }

    private static List<Entry> Entries(IEnumerable<KeyValuePair<string, Tensor>> tensors, ScalarType? floatDtype)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (floatDtype is ScalarType fd && !torch.is_floating_point(fd))
            throw new ArgumentException($"dtype must be a floating type, got {fd}", nameof(floatDtype));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        foreach (var (name, t) in tensors)
        {
            if (name is null) throw new ArgumentException("a tensor name is null", nameof(tensors));
            if (name == "__metadata__") throw new CheckpointException("the tensor name \"__metadata__\" is reserved by the safetensors format");
            if (!seen.Add(name)) throw new CheckpointException($"duplicate tensor name '{name}'");
            if (t is null) throw new ArgumentException($"tensor '{name}' is null", nameof(tensors));
            if (t.IsInvalid) throw new CheckpointException($"tensor '{name}' has been disposed");
            if (t.is_sparse) throw new CheckpointException($"tensor '{name}' is sparse; safetensors stores dense tensors only (call to_dense first)");
            if (t.device_type == DeviceType.META) throw new CheckpointException($"tensor '{name}' is on the meta device and has no data to save");
            var st = floatDtype is ScalarType f && t.is_floating_point() ? f : t.dtype;
            var info = DTypeInfo.From(st) ?? throw new CheckpointException($"tensor '{name}' has dtype {st}, which safetensors files written here cannot hold (supported: {DTypeInfo.SupportedList})");
            long[] shape = t.shape;
            long bytes = checked(t.numel() * info.Size);
            entries.Add(new Entry(name, t, info, shape, bytes));
        }
        return entries;
    }

    private static void WriteTensor(Stream s, Entry e)
    {
        if (e.Bytes == 0) return;
        using var _ = torch.no_grad();
        using var x = e.Tensor.detach();
        if (x.numel() * e.Target.Size != e.Bytes)
            throw new CheckpointException($"tensor '{e.Name}' changed size while being saved (expected {e.Bytes} bytes)");
        if (x.device_type == DeviceType.CPU && x.dtype == e.Target.Type && x.is_contiguous() && e.Bytes <= SpanLimit)
        {
            s.Write(x.bytes);
            return;
        }
        // Anything to convert, move or gather is done a chunk at a time, so saving never holds a second copy of a
        // tensor (a bf16 copy of an f32 embedding, or a GPU tensor's host copy).
        using var c = x.is_contiguous() ? null : x.contiguous();
        using var flat = (c ?? x).view(-1);
        long count = flat.numel();
        long chunk = Math.Max(1, LargeCopyChunk / e.Target.Size);
        for (long off = 0; off < count; off += chunk)
        {
            using var part = flat.narrow(0, off, Math.Min(chunk, count - off));
            // Convert on the tensor's own device (fast on GPU, halves the transfer for BF16) before moving to CPU.
            using var converted = part.dtype != e.Target.Type ? part.to(e.Target.Type) : null;
            using var host = (converted ?? part).device_type != DeviceType.CPU ? (converted ?? part).cpu() : null;
            s.Write((host ?? converted ?? part).bytes);
        }
    }

    /// <summary>Orders names by UTF-8 bytes (= code points), as the Rust writer's string comparison does.</summary>
    private static int CompareUtf8(string a, string b)
    {
        var ea = a.EnumerateRunes();
        var eb = b.EnumerateRunes();
        while (true)
        {
            bool ha = ea.MoveNext(), hb = eb.MoveNext();
            if (!ha || !hb) return ha.CompareTo(hb);
            int c = ea.Current.Value.CompareTo(eb.Current.Value);
            if (c != 0) return c;
        }
    }

    /// <summary>JSON string escaping as serde_json does it (only quote, backslash and control characters).</summary>
    private static StringBuilder AppendJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (ch < 0x20) sb.Append("\\u00").Append(((int)ch).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.Append('"');
    }

    // ------------------------------------------------------------------------------------------ reading

    internal sealed record ParsedHeader(Dictionary<string, TensorInfo> Tensors, Dictionary<string, string> Metadata, long DataStart, long FileLength);

    internal static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        EnsureLittleEndian();
        if (Directory.Exists(path))
            throw new CheckpointException($"{path} is a folder, not a safetensors file (use CheckpointFolder.LoadStateDict for checkpoint folders)", path);
        if (!File.Exists(path)) throw new CheckpointException($"safetensors file not found: {path}", path);
        // No access hint: the loader reads the tensors in file order, and the kernel's default read-ahead then serves a
        // quantized checkpoint's many small tensors from a cold cache about twice as fast as with the random-access
        // hint, which turns read-ahead off (docs/benchmarks.md, "Loading"); the sequential hint was no better.
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.None); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"cannot open {path}: {e.Message}", path, e);
        }
    }

    internal static ParsedHeader ParseHeader(string path, FileStream fs)
    {
        long fileLength = fs.Length;
        Span<byte> first = stackalloc byte[8];
        int got = ReadUpTo(fs, first);
        if (LooksLikePickle(first[..got]))
            throw new CheckpointException($"{path} is a PyTorch pickle/zip checkpoint, not safetensors; pickle checkpoints are refused because loading them can run arbitrary code (convert it to safetensors in Python first)", path);
        if (fileLength < 8)
            throw new CheckpointException($"{path} is truncated: {fileLength} bytes, shorter than the 8-byte header length field", path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(first);
        if (n == 0) throw new CheckpointException($"{path}: header length is 0 (the header must be a JSON object)", path);
        if (n > (ulong)MaxHeaderBytes)
            throw new CheckpointException($"{path}: header length {n} bytes is absurd (limit {MaxHeaderBytes}); the file is corrupt or not safetensors", path);
        if ((long)n > fileLength - 8)
            throw new CheckpointException($"{path} is truncated: header length {n} bytes goes beyond the end of the {fileLength}-byte file", path);

        byte[] json = new byte[(int)n];
        fs.ReadExactly(json);
        long dataStart = 8 + (long)n;
        long dataLength = fileLength - dataStart;

        // JsonDocument only notices bad UTF-8 when a string is read (and then throws InvalidOperationException).
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new CheckpointException($"{path}: header is not valid UTF-8", path);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (JsonException e) { throw new CheckpointException($"{path}: header is not valid JSON ({OneLine(e.Message)})", path, e); }
        catch (ArgumentException e) { throw new CheckpointException($"{path}: header is not valid UTF-8 JSON ({OneLine(e.Message)})", path, e); }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: header is JSON {doc.RootElement.ValueKind}, expected an object of tensors", path);
            var tensors = new List<TensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                string name = prop.Name;
                if (name == "__metadata__")
                {
                    if (sawMetadata) throw new CheckpointException($"{path}: header has __metadata__ twice", path);
                    sawMetadata = true;
                    ReadMetadata(path, prop.Value, metadata);
                    continue;
                }
                if (!names.Add(name)) throw new CheckpointException($"{path}: duplicate tensor name '{name}' in header", path);
                tensors.Add(ReadEntry(path, name, prop.Value, dataLength));
            }

            // Offsets are checked in file order so that overlaps are found in one pass; the dictionary keeps that
            // order, which also makes loading read the file sequentially.
            tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            for (int i = 1; i < tensors.Count; i++)
            {
                var prev = tensors[i - 1];
                var cur = tensors[i];
                if (cur.Begin < prev.End)
                    throw new CheckpointException($"{path}: data of '{cur.Name}' [{cur.Begin}, {cur.End}) overlaps '{prev.Name}' [{prev.Begin}, {prev.End})", path);
            }
            var dict = new Dictionary<string, TensorInfo>(tensors.Count, StringComparer.Ordinal);
            foreach (var t in tensors) dict.Add(t.Name, t);
            return new ParsedHeader(dict, metadata, dataStart, fileLength);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{path}: __metadata__ is {value.ValueKind}, expected an object of strings", path);
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointException($"{path}: __metadata__ value of '{m.Name}' is {m.Value.ValueKind}, expected a string", path);
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw new CheckpointException($"{path}: __metadata__ has key '{m.Name}' twice", path);
        }
    }

    private static TensorInfo ReadEntry(string path, string name, JsonElement e, long dataLength)
    {
        string where = $"{path}: tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{where} has a {e.ValueKind} entry, expected an object with dtype, shape and data_offsets", path);
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new CheckpointException($"{where} has no dtype string", path);
        string code = dt.GetString()!;
        var info = DTypeInfo.FromCode(code);
        if (info == null)
        {
            string why = DTypeInfo.KnownUnsupported.Contains(code)
                ? $"dtype {code} is valid safetensors but not supported here (supported: {DTypeInfo.SupportedList})"
                : $"unknown dtype \"{code}\" (supported: {DTypeInfo.SupportedList})";
            throw new CheckpointException($"{where}: {why}", path);
        }
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new CheckpointException($"{where} has no shape array", path);
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        long count = 1;
        bool overflow = false, zeroDim = false;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new CheckpointException($"{where} has invalid shape {sh.GetRawText()} (dimensions must be non-negative integers)", path);
            shape[i++] = v;
            if (v == 0) zeroDim = true;
            else if (!overflow)
            {
                // Zero dimensions are skipped here so that [0, 2^62, 2^62] is still refused: libtorch would
                // overflow computing its strides even though the tensor holds nothing.
                try { count = checked(count * v); }
                catch (OverflowException) { overflow = true; }
            }
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new CheckpointException($"{where} has no data_offsets [begin, end]", path);
        long begin = 0, end = 0;
        int j = 0;
        foreach (var o in off.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out long v) || v < 0)
                throw new CheckpointException($"{where} has invalid data_offsets {off.GetRawText()} (must be non-negative integers)", path);
            if (j++ == 0) begin = v; else end = v;
        }
        if (end < begin)
            throw new CheckpointException($"{where} has data_offsets [{begin}, {end}] with end before begin", path);
        long expected = 0;
        if (!overflow)
        {
            try { expected = checked(count * info.Size); }
            catch (OverflowException) { overflow = true; }
        }
        if (zeroDim) expected = 0;
        if (overflow)
            throw new CheckpointException($"{where} has shape [{string.Join(", ", shape)}], too large to exist", path);
        if (end - begin != expected)
            throw new CheckpointException($"{where} has data_offsets [{begin}, {end}] ({end - begin} bytes) but {info.Code} shape [{string.Join(", ", shape)}] needs {expected} bytes", path);
        if (end > dataLength)
            throw new CheckpointException($"{path} is truncated: tensor '{name}' data_offsets [{begin}, {end}] go beyond the end of the data ({dataLength} bytes)", path);
        return new TensorInfo(name, info.Code, shape, begin, end);
    }

    private static Tensor ReadTensor(string path, FileStream fs, long dataStart, TensorInfo info, ScalarType? dtype, Device? device)
    {
        var file = DTypeInfo.FromCode(info.DType)!;
        Tensor cpu;
        try { cpu = torch.empty(info.Shape, file.Type, torch.CPU); }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or OutOfMemoryException)
        {
            throw new CheckpointException($"{path}: cannot allocate tensor '{info.Name}' {info.DType} [{string.Join(", ", info.Shape)}] ({info.ByteCount} bytes): {OneLine(e.Message)}", path, e);
        }
        try
        {
            long n = info.ByteCount;
            if (n > 0)
            {
                fs.Seek(dataStart + info.Begin, SeekOrigin.Begin);
                if (n <= SpanLimit) fs.ReadExactly(cpu.bytes);
                else cpu.ReadBytesFromStream(fs, LargeCopyChunk);
            }
        }
        catch (Exception e) when (e is IOException)
        {
            cpu.Dispose();
            throw new CheckpointException($"{path}: cannot read tensor '{info.Name}' at offset {dataStart + info.Begin} ({OneLine(e.Message)}); the file may be truncated or changing", path, e);
        }
        catch
        {
            cpu.Dispose();
            throw;
        }

        var targetType = dtype is ScalarType d && file.IsFloating ? d : file.Type;
        var targetDevice = device ?? torch.CPU;
        if (targetType == file.Type && targetDevice.type == DeviceType.CPU) return cpu;
        try { return cpu.to(targetType, targetDevice); }
        finally { cpu.Dispose(); }
    }

    /// <summary>
    /// Copies one stored tensor into an existing tensor (a module's parameter), converting to its dtype and moving
    /// to its device chunk by chunk: a CPU target of the file's dtype is read straight into its storage, anything
    /// else goes through one small staging buffer, so no full-size temporary of the tensor ever exists.
    /// </summary>
    /// <param name="path">The file, for messages.</param>
    /// <param name="fs">The open file.</param>
    /// <param name="dataStart">Offset of the file's data section.</param>
    /// <param name="info">The tensor's header entry.</param>
    /// <param name="target">Where the values go; its dtype and device decide the conversion.</param>
    /// <param name="staging">A CPU buffer of the file's dtype from <see cref="StagingBuffer"/>, reused across tensors
    /// so that many conversions do not churn the allocator; one is made for this call when null.</param>
    internal static unsafe void ReadInto(string path, FileStream fs, long dataStart, TensorInfo info, Tensor target, Tensor? staging = null)
    {
        var file = DTypeInfo.FromCode(info.DType)!;
        if (!target.shape.SequenceEqual(info.Shape))
            throw new CheckpointException($"{path}: tensor '{info.Name}' has shape [{string.Join(", ", info.Shape)}] but its target has [{string.Join(", ", target.shape)}]", path);
        long count = target.numel();
        if (count == 0) return;
        bool direct = target.device_type == DeviceType.CPU && target.dtype == file.Type && target.is_contiguous();
        long chunk = Math.Max(1, LargeCopyChunk / file.Size);
        using var flat = target.is_contiguous() ? target.view(-1) : null;
        if (staging is not null && (staging.dtype != file.Type || staging.numel() < Math.Min(chunk, count)))
            throw new ArgumentException($"staging buffer is {staging.dtype} [{staging.numel()}], need {file.Type} of {Math.Min(chunk, count)}", nameof(staging));
        using var ownStaging = direct || staging is not null || flat is null ? null : StagingBuffer(file.Type, count);
        staging ??= ownStaging;
        using var whole = flat is null ? torch.empty(info.Shape, file.Type, torch.CPU) : null;   // a strided target: stage it whole
        try
        {
            if (whole is not null)
            {
                fs.Seek(dataStart + info.Begin, SeekOrigin.Begin);
                if (info.ByteCount <= SpanLimit) fs.ReadExactly(whole.bytes);
                else whole.ReadBytesFromStream(fs, LargeCopyChunk);
                target.copy_(whole);
                return;
            }
            long pieceBytes = chunk * file.Size, offset = dataStart + info.Begin;
            if (direct)
            {
                ReadParallel(fs.SafeFileHandle, offset, DataPointer(flat!), count * file.Size, pieceBytes);
                return;
            }
            // Through the staging buffer: as much as it holds at a time, read by every thread, then converted by libtorch.
            long round = Math.Max(chunk, staging!.numel() / chunk * chunk);
            for (long off = 0; off < count; off += round)
            {
                long n = Math.Min(round, count - off);
                using var dst = flat!.narrow(0, off, n);
                using var src = staging.narrow(0, 0, n);
                ReadParallel(fs.SafeFileHandle, offset + off * file.Size, DataPointer(src), n * file.Size, pieceBytes);
                dst.copy_(src);
            }
        }
        catch (Exception e) when (e is IOException || e is AggregateException { InnerException: IOException })
        {
            var io = e as IOException ?? (IOException)e.InnerException!;
            throw new CheckpointException($"{path}: cannot read tensor '{info.Name}' at offset {dataStart + info.Begin} ({OneLine(io.Message)}); the file may be truncated or changing", path, io);
        }
    }

    /// <summary>
    /// Reads <paramref name="bytes"/> from <paramref name="offset"/> of the file into <paramref name="destination"/>, in
    /// pieces of <paramref name="pieceBytes"/> spread over the kernels' threads: filling fresh memory costs a page fault
    /// per page, which one thread alone pays at a fraction of the speed the page cache is copied.
    /// </summary>
    private static unsafe void ReadParallel(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, byte* destination, long bytes, long pieceBytes)
    {
        long pieces = (bytes + pieceBytes - 1) / pieceBytes;
        int threads = (int)Math.Min(Engine.Cpu.Kernels.CpuKernelSupport.Threads, pieces);
        if (threads <= 1)
        {
            for (long p = 0; p < pieces; p++) ReadPiece(file, offset, destination, bytes, pieceBytes, p);
            return;
        }
        Parallel.For(0, pieces, new ParallelOptions { MaxDegreeOfParallelism = threads }, p => ReadPiece(file, offset, destination, bytes, pieceBytes, p));
    }

    private static unsafe void ReadPiece(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, byte* destination, long bytes, long pieceBytes, long piece)
    {
        long begin = piece * pieceBytes, end = Math.Min(bytes, begin + pieceBytes);
        while (begin < end)
        {
            int n = RandomAccess.Read(file, new Span<byte>(destination + begin, (int)Math.Min(end - begin, int.MaxValue)), offset + begin);
            if (n == 0) throw new EndOfStreamException($"the file ends {begin} bytes into the tensor's {bytes}");
            begin += n;
        }
    }

    /// <summary>The address of a contiguous CPU tensor's first element (also for tensors over 2 GB, which no span covers).</summary>
    private static unsafe byte* DataPointer(Tensor t)
    {
        using var first = t.view(-1).narrow(0, 0, 1);
        return (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(first.bytes));
    }

    /// <summary>
    /// A staging buffer for <see cref="ReadInto"/>: one chunk of <paramref name="type"/> per reading thread, or less for a
    /// smaller tensor.
    /// </summary>
    internal static Tensor StagingBuffer(ScalarType type, long maxCount = long.MaxValue)
    {
        long size = DTypeInfo.From(type)?.Size ?? throw new ArgumentException($"no safetensors dtype for {type}", nameof(type));
        long chunk = Math.Max(1, LargeCopyChunk / size);
        return torch.empty(Math.Min(chunk * Engine.Cpu.Kernels.CpuKernelSupport.Threads, maxCount), type, torch.CPU);
    }

    private static int ReadUpTo(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int r = s.Read(buffer[total..]);
            if (r == 0) break;
            total += r;
        }
        return total;
    }

    /// <summary>
    /// Recognises torch.save output (zip archive, or a bare pickle stream) so the user is told why it is refused
    /// instead of getting an "absurd header length".
    /// </summary>
    internal static bool LooksLikePickle(ReadOnlySpan<byte> head) =>
        (head.Length >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4) ||
        (head.Length >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5);

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    internal static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new NotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
    }
}

/// <summary>The safetensors dtypes this library maps to TorchSharp types.</summary>
internal sealed record DTypeInfo(string Code, ScalarType Type, int Size, int Rank, bool IsFloating)
{
    // Rank is the position in the Rust writer's Dtype enum; it sorts by it (descending) to keep data aligned.
    private static readonly DTypeInfo[] All =
    {
        new("BOOL", ScalarType.Bool, 1, 0, false),
        new("U8", ScalarType.Byte, 1, 4, false),
        new("I8", ScalarType.Int8, 1, 5, false),
        new("I16", ScalarType.Int16, 2, 11, false),
        new("F16", ScalarType.Float16, 2, 13, true),
        new("BF16", ScalarType.BFloat16, 2, 14, true),
        new("I32", ScalarType.Int32, 4, 15, false),
        new("F32", ScalarType.Float32, 4, 17, true),
        new("F64", ScalarType.Float64, 8, 19, true),
        new("I64", ScalarType.Int64, 8, 20, false),
    };

    /// <summary>Valid safetensors dtypes that TorchSharp cannot hold; named apart from typos in error messages.</summary>
    public static readonly HashSet<string> KnownUnsupported = new(StringComparer.Ordinal)
    {
        "F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "U16", "U32", "U64", "C64",
    };

    public static string SupportedList { get; } = string.Join(", ", All.Select(d => d.Code));

    public static DTypeInfo? FromCode(string code) => All.FirstOrDefault(d => d.Code == code);

    public static DTypeInfo? From(ScalarType t) => All.FirstOrDefault(d => d.Type == t);
}
