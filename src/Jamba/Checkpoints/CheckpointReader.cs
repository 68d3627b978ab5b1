using System.Globalization;
using Jamba.Quantization;
using Jamba.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Checkpoints;

/// <summary>One tensor of a checkpoint folder: the shard that holds it and its header entry.</summary>
/// <param name="FilePath">The .safetensors file.</param>
/// <param name="DataStart">Offset of the file's data section (after the header).</param>
/// <param name="Info">The header entry: dtype, shape and offsets within the data section.</param>
public sealed record StoredTensor(string FilePath, long DataStart, TensorInfo Info);

/// <summary>
/// The tensor index of a checkpoint folder, read from the safetensors headers alone (no tensor data), and the
/// streamed copy of those tensors into a module's parameters. Opening reads a few kilobytes per shard, so a
/// config can be checked against the checkpoint (<see cref="CheckpointValidation"/>) before any parameter memory
/// exists; <see cref="ReadInto"/> then moves the data one tensor, and one chunk, at a time, so loading never holds
/// more than the module's own parameters plus a small buffer.
/// </summary>
public sealed class CheckpointReader
{
    /// <summary>The checkpoint folder.</summary>
    public string Folder { get; }

    /// <summary>Every tensor of every listed shard, by name; within a shard in file order.</summary>
    public IReadOnlyDictionary<string, StoredTensor> Tensors { get; }

    /// <summary>The weight files in the order they are read.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>Bytes of tensor data in the files (as stored, before any dtype conversion).</summary>
    public long DataBytes => Tensors.Values.Sum(t => t.Info.ByteCount);

    private CheckpointReader(string folder, Dictionary<string, StoredTensor> tensors, List<string> files)
    {
        Folder = folder;
        Tensors = tensors;
        Files = files;
    }

    /// <summary>Name → shape of every stored tensor (the input of <see cref="CheckpointValidation"/>).</summary>
    public IReadOnlyDictionary<string, long[]> Shapes() =>
        Tensors.ToDictionary(p => p.Key, p => p.Value.Info.Shape, StringComparer.Ordinal);

    /// <summary>Name → safetensors dtype code (<c>F32</c>, <c>BF16</c>, <c>I8</c>, ...) of every stored tensor.</summary>
    public IReadOnlyDictionary<string, string> DTypes() =>
        Tensors.ToDictionary(p => p.Key, p => p.Value.Info.DType, StringComparer.Ordinal);

    /// <summary>
    /// Reads the headers of a folder's <c>model.safetensors</c>, or of every shard its
    /// <c>model.safetensors.index.json</c> lists.
    /// </summary>
    /// <exception cref="CheckpointException">The folder or a shard is missing or invalid, the index is wrong, or the
    /// folder holds only pickle checkpoints (refused, since unpickling can execute code).</exception>
    public static CheckpointReader Open(string dir)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        if (File.Exists(dir))
            throw new CheckpointException($"{dir} is a file, not a checkpoint folder (use SafeTensors.Load for a single .safetensors file)", dir);
        if (!Directory.Exists(dir)) throw new CheckpointException($"checkpoint folder not found: {dir}", dir);

        var tensors = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        var files = new List<string>();
        string single = Path.Combine(dir, CheckpointFolder.WeightsFile);
        if (File.Exists(single))
        {
            AddShard(single, tensors, files);
            return new CheckpointReader(dir, tensors, files);
        }
        string index = Path.Combine(dir, CheckpointFolder.IndexFile);
        if (File.Exists(index))
        {
            // Shards in order of first mention, each with the names the index assigns to it.
            var shards = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var (name, file) in CheckpointFolder.ReadIndex(index))
            {
                if (!shards.TryGetValue(file, out var list)) shards[file] = list = new List<string>();
                list.Add(name);
            }
            foreach (var (file, names) in shards)
            {
                string shardPath = Path.Combine(dir, file);
                if (!File.Exists(shardPath))
                    throw new CheckpointException($"{index} maps '{names[0]}' (and {names.Count - 1} more) to shard {file}, which is missing", shardPath);
                var header = AddShard(shardPath, tensors, files);
                foreach (var n in names)
                    if (!header.ContainsKey(n))
                        throw new CheckpointException($"{index} maps '{n}' to shard {file}, but that shard has no tensor '{n}'", shardPath);
            }
            return new CheckpointReader(dir, tensors, files);
        }

        CheckpointFolder.ThrowNoWeights(dir);
        throw new System.Diagnostics.UnreachableException();
    }

    // Like transformers, every tensor of a listed shard is part of the checkpoint; extras then show up as
    // unexpected keys.
    private static IReadOnlyDictionary<string, TensorInfo> AddShard(string path, Dictionary<string, StoredTensor> tensors, List<string> files)
    {
        using var fs = SafeTensors.OpenRead(path);
        var h = SafeTensors.ParseHeader(path, fs);
        foreach (var (n, info) in h.Tensors)
            if (!tensors.TryAdd(n, new StoredTensor(path, h.DataStart, info)))
                throw new CheckpointException($"tensor '{n}' is stored in more than one shard (again in {Path.GetFileName(path)})", path);
        files.Add(path);
        return h.Tensors;
    }

    /// <summary>
    /// Streams the stored tensors into <paramref name="module"/>'s parameters and persistent buffers, converting
    /// each to the parameter's own dtype and device on the way. Names, shapes and the dtypes of integer (quantized)
    /// tensors are all checked first, from the headers, so a mismatch reports every problem at once and leaves the
    /// module untouched. A <see cref="QuantizedLinear"/> whose checkpoint stores a floating <c>weight</c> and no
    /// <c>weight_scale</c> (a reference checkpoint) is quantized on the way in, one layer at a time, so loading
    /// never holds more than the quantized module plus one layer's float weight.
    /// </summary>
    /// <param name="module">The module; names are its <c>named_parameters()</c> / <c>named_buffers()</c> paths.</param>
    /// <param name="ignore">Stored names to skip without calling them unexpected (a tied <c>lm_head.weight</c>).</param>
    /// <returns>Bytes read from the files.</returns>
    /// <exception cref="CheckpointException">Names or shapes disagree, or a file cannot be read.</exception>
    public long ReadInto(nn.Module module, IReadOnlySet<string>? ignore = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in module.named_parameters()) targets.TryAdd(name, p);
        foreach (var (name, b) in module.named_buffers(recurse: true, include_nonpersistent: false)) targets.TryAdd(name, b);
        var quantizeInto = new Dictionary<string, QuantizedLinear>(StringComparer.Ordinal);
        foreach (var (name, m) in module.named_modules())
        {
            if (m is not QuantizedLinear q || !Tensors.TryGetValue(name + ".weight", out var w) || Tensors.ContainsKey(name + ".weight_scale")
                || DTypeInfo.FromCode(w.Info.DType) is not { IsFloating: true }) continue;
            quantizeInto[name + ".weight"] = q;
            targets.Remove(name + ".weight");
            targets.Remove(name + ".weight_scale");
        }

        var missing = targets.Keys.Where(n => !Tensors.ContainsKey(n)).ToList();
        var unexpected = Tensors.Keys.Where(n => !targets.ContainsKey(n) && !quantizeInto.ContainsKey(n) && !(ignore?.Contains(n) ?? false)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        var mismatched = targets.Select(t => (t.Key, shape: t.Value.shape))
            .Concat(quantizeInto.Select(q => (q.Key, shape: new[] { q.Value.OutFeatures, q.Value.InFeatures })))
            .Where(t => Tensors.TryGetValue(t.Key, out var s) && !s.Info.Shape.SequenceEqual(t.shape))
            .Select(t => $"{t.Key}: module {CheckpointFolder.ShapeText(t.shape)}, checkpoint {CheckpointFolder.ShapeText(Tensors[t.Key].Info.Shape)}").ToList();
        // Quantized tensors are copied as stored, never converted: an int8 weight has the float weight's shape.
        static bool Quantized(ScalarType t) => t is ScalarType.Int8 or ScalarType.Byte;
        mismatched.AddRange(targets.Where(t => Tensors.TryGetValue(t.Key, out var s) && DTypeInfo.FromCode(s.Info.DType)!.Type is var stored
                && (Quantized(t.Value.dtype) || Quantized(stored)) && stored != t.Value.dtype)
            .Select(t => $"{t.Key}: module {t.Value.dtype}, checkpoint {Tensors[t.Key].Info.DType}"));
        if (missing.Count + unexpected.Count + mismatched.Count > 0)
            throw CheckpointFolder.MismatchException($"{Folder} does not match {module.GetName()}", missing, unexpected, mismatched);

        long read = 0;
        using var _ = torch.no_grad();
        var staging = new Dictionary<ScalarType, Tensor>();   // one per stored dtype that needs converting
        var blockBuffers = new Dictionary<ScalarType, Tensor>();   // rows of a weight being quantized
        try
        {
            foreach (var file in Files)
            {
                using var fs = SafeTensors.OpenRead(file);
                foreach (var (name, stored) in Tensors.Where(t => t.Value.FilePath == file).OrderBy(t => t.Value.Info.Begin))
                {
                    var type = DTypeInfo.FromCode(stored.Info.DType)!.Type;
                    if (quantizeInto.TryGetValue(name, out var quantized))
                    {
                        ReadQuantizing(file, fs, stored.DataStart, stored.Info, type, quantized, staging, blockBuffers);
                        read += stored.Info.ByteCount;
                        continue;
                    }
                    if (!targets.TryGetValue(name, out var target)) continue;
                    bool direct = target.device_type == DeviceType.CPU && target.dtype == type && target.is_contiguous();
                    Tensor? buffer = null;
                    if (!direct && !staging.TryGetValue(type, out buffer)) staging[type] = buffer = SafeTensors.StagingBuffer(type);
                    SafeTensors.ReadInto(file, fs, stored.DataStart, stored.Info, target, buffer);
                    read += stored.Info.ByteCount;
                }
            }
        }
        finally
        {
            foreach (var b in staging.Values.Concat(blockBuffers.Values)) b.Dispose();
            if (blockBuffers.Count > 0) NativeHeap.Trim();
        }
        return read;
    }

    /// <summary>
    /// Reads a float weight [out, in] into <paramref name="layer"/>, quantizing it a block of rows at a time in its
    /// stored dtype where the quantizer takes it (bfloat16, float32), so the temporary stays at
    /// <see cref="QuantizeReadBytes"/> even for an LM head of vocabulary × hidden.
    /// </summary>
    private static void ReadQuantizing(string file, FileStream fs, long dataStart, TensorInfo info, ScalarType type, QuantizedLinear layer,
        Dictionary<ScalarType, Tensor> staging, Dictionary<ScalarType, Tensor> blockBuffers)
    {
        long rows = info.Shape[0], cols = info.Shape[1], size = DTypeInfo.From(type)!.Size;
        var blockType = type is ScalarType.Float32 or ScalarType.BFloat16 ? type : ScalarType.Float32;
        long blockSize = DTypeInfo.From(blockType)!.Size, block = Math.Max(1, QuantizeReadBytes / Math.Max(1, cols * blockSize));
        Tensor? stage = null;
        if (type != blockType && !staging.TryGetValue(type, out stage)) staging[type] = stage = SafeTensors.StagingBuffer(type);
        // One block buffer per dtype serves every layer of the load: a fresh one per block would fault its pages in each time.
        if (!blockBuffers.TryGetValue(blockType, out var blocks) || blocks.numel() < Math.Min(block, rows) * cols)
        {
            blocks?.Dispose();
            blockBuffers[blockType] = blocks = torch.empty(Math.Max(Math.Min(block, rows) * cols, QuantizeReadBytes / blockSize), blockType);
        }
        for (long r = 0; r < rows; r += block)
        {
            long n = Math.Min(block, rows - r);
            var part = info with { Shape = new[] { n, cols }, Begin = info.Begin + r * cols * size, End = info.Begin + (r + n) * cols * size };
            using var full = blocks.narrow(0, 0, n * cols).view(n, cols);
            SafeTensors.ReadInto(file, fs, dataStart, part, full, stage);
            layer.QuantizeRows(r, full);
        }
    }

    /// <summary>The most bytes of float32 a quantizing read holds at once (a block of rows of one weight).</summary>
    private const long QuantizeReadBytes = 32L << 20;

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Folder}: {Tensors.Count} tensors in {Files.Count} file(s)");
}
