using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Checkpoints;

/// <summary>
/// Reads and writes checkpoint folders in the Hugging Face <c>save_pretrained</c> layout: <c>config.json</c>,
/// either <c>model.safetensors</c> or <c>model.safetensors.index.json</c> plus
/// <c>model-0000i-of-0000n.safetensors</c> shards, and optional tokenizer files. Keeping the exact layout means a
/// folder written here loads in transformers and vice versa.
/// </summary>
public static class CheckpointFolder
{
    /// <summary>The single-file weights name used by transformers.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>The shard index name used by transformers.</summary>
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>The configuration file name.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>Tokenizer files copied by <see cref="Save"/>; these are the ones a Jamba tokenizer folder can hold.</summary>
    public static IReadOnlyList<string> TokenizerFiles { get; } = new[]
    {
        "tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    };

    private static readonly string[] PickleExtensions = { ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle" };

    // ------------------------------------------------------------------------------------------ loading

    /// <summary>
    /// Loads all weights of a checkpoint folder, from the single file or from every shard of the index.
    /// </summary>
    /// <param name="dir">The checkpoint folder.</param>
    /// <param name="dtype">Floating tensors are converted to this (a floating type); integer tensors keep theirs.</param>
    /// <param name="device">Where the tensors are created.</param>
    /// <returns>Name → tensor; the caller owns the tensors.</returns>
    /// <exception cref="CheckpointException">The folder or a shard is missing or invalid, the index is wrong, or the
    /// folder holds only pickle checkpoints (refused, since unpickling can execute code).</exception>
    public static Dictionary<string, Tensor> LoadStateDict(string dir, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var reader = CheckpointReader.Open(dir);
        var result = new Dictionary<string, Tensor>(reader.Tensors.Count, StringComparer.Ordinal);
        try
        {
            foreach (var file in reader.Files)
                foreach (var (n, t) in SafeTensors.Load(file, dtype, device)) result.Add(n, t);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Throws the error for a folder with no safetensors weights (naming a pickle checkpoint if there is one).</summary>
    internal static void ThrowNoWeights(string dir)
    {
        string? pickle = Directory.EnumerateFiles(dir)
            .Select(Path.GetFileName)
            .Where(f => f != null && PickleExtensions.Any(x => f.EndsWith(x, StringComparison.OrdinalIgnoreCase) || f.EndsWith(x + ".index.json", StringComparison.OrdinalIgnoreCase)))
            .OrderBy(f => f, StringComparer.Ordinal)
            .FirstOrDefault();
        if (pickle != null)
            throw new CheckpointException($"{dir} holds only a pickle checkpoint ({pickle}); pickle checkpoints are refused for safety because loading them can run arbitrary code; convert it to safetensors (in Python: model.save_pretrained(dir, safe_serialization=True))", dir);
        throw new CheckpointException($"{dir} has neither {WeightsFile} nor {IndexFile}", dir);
    }

    internal static List<(string name, string file)> ReadIndex(string indexPath)
    {
        string text;
        try { text = File.ReadAllText(indexPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"cannot read {indexPath}: {e.Message}", indexPath, e);
        }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException e) { throw new CheckpointException($"{indexPath} is not valid JSON ({e.Message.ReplaceLineEndings(" ")})", indexPath, e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{indexPath} has no \"weight_map\" object", indexPath);
            var list = new List<(string, string)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new CheckpointException($"{indexPath}: weight_map entry '{p.Name}' is {p.Value.ValueKind}, expected a shard file name", indexPath);
                string file = p.Value.GetString()!;
                // Shards must sit next to the index: a path could otherwise make us read anywhere on disk.
                if (file.Length == 0 || file != Path.GetFileName(file) || file == "." || file == ".." || file.Contains('/') || file.Contains('\\'))
                    throw new CheckpointException($"{indexPath}: weight_map entry '{p.Name}' names shard \"{file}\", which is not a plain file name in the checkpoint folder", indexPath);
                if (!seen.Add(p.Name)) throw new CheckpointException($"{indexPath}: weight_map lists '{p.Name}' twice", indexPath);
                list.Add((p.Name, file));
            }
            if (list.Count == 0) throw new CheckpointException($"{indexPath}: weight_map is empty", indexPath);
            return list;
        }
    }

    /// <summary>
    /// Copies a state dict into a module's parameters and persistent buffers. Every problem is collected first and
    /// reported in one exception before anything is copied, so a failed load leaves the module exactly as it was
    /// and the user sees all mismatches at once instead of fixing them one run at a time.
    /// </summary>
    /// <param name="module">The module; names are its <c>named_parameters()</c> / <c>named_buffers()</c> paths.</param>
    /// <param name="stateDict">Name → tensor, any dtype and device; values are converted to each parameter's own.</param>
    /// <param name="strict">When true, missing and unexpected keys are errors; shape mismatches always are.</param>
    /// <exception cref="CheckpointException">Keys are missing, unexpected or mis-shaped (see its key lists).</exception>
    public static void LoadInto(nn.Module module, IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(stateDict);
        var targets = new List<(string name, Tensor target)>();
        var targetNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, p) in module.named_parameters())
            if (targetNames.Add(name)) targets.Add((name, p));
        foreach (var (name, b) in module.named_buffers(recurse: true, include_nonpersistent: false))
            if (targetNames.Add(name)) targets.Add((name, b));

        var missing = new List<string>();
        var mismatched = new List<string>();
        var plan = new List<(Tensor target, Tensor source)>();
        foreach (var (name, target) in targets)
        {
            if (!stateDict.TryGetValue(name, out var source)) { missing.Add(name); continue; }
            if (source is null || source.IsInvalid) throw new CheckpointException($"state dict tensor '{name}' is null or disposed");
            if (!target.shape.SequenceEqual(source.shape))
            {
                mismatched.Add($"{name}: module {ShapeText(target.shape)}, checkpoint {ShapeText(source.shape)}");
                continue;
            }
            // A quantized tensor is copied as stored or not at all: converted, an int8 weight would load as its raw codes.
            if (IsQuantizedType(target.dtype) != IsQuantizedType(source.dtype) || (IsQuantizedType(target.dtype) && target.dtype != source.dtype))
            {
                mismatched.Add($"{name}: module {target.dtype}, checkpoint {source.dtype} (quantized tensors load only into a quantized model: JambaModel.Load reads the folder's quantization_config)");
                continue;
            }
            plan.Add((target, source));
        }
        var unexpected = stateDict.Keys.Where(k => !targetNames.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();

        bool fail = mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0));
        if (fail)
            throw MismatchException($"state dict does not match {module.GetName()}", strict ? missing : new List<string>(), strict ? unexpected : new List<string>(), mismatched,
                missing, unexpected);

        using var _ = torch.no_grad();
        foreach (var (target, source) in plan) target.copy_(source);
    }

    /// <summary>The one exception for name and shape disagreements: every list in one message, nothing loaded.</summary>
    internal static CheckpointException MismatchException(string what, List<string> missing, List<string> unexpected, List<string> mismatched,
        List<string>? allMissing = null, List<string>? allUnexpected = null)
    {
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add(Summarise(missing, "missing key", "missing keys"));
        if (unexpected.Count > 0) parts.Add(Summarise(unexpected, "unexpected key", "unexpected keys"));
        if (mismatched.Count > 0) parts.Add(Summarise(mismatched, "shape mismatch", "shape mismatches"));
        return new CheckpointException($"{what}: {string.Join("; ", parts)}; nothing was loaded")
        {
            MissingKeys = allMissing ?? missing,
            UnexpectedKeys = allUnexpected ?? unexpected,
            ShapeMismatches = mismatched,
        };
    }

    private static string Summarise(List<string> items, string one, string many)
    {
        const int Show = 5;
        var sb = new StringBuilder();
        sb.Append(items.Count.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(items.Count == 1 ? one : many).Append(" (");
        sb.AppendJoin(", ", items.Take(Show));
        if (items.Count > Show) sb.Append(", ... ").Append((items.Count - Show).ToString(CultureInfo.InvariantCulture)).Append(" more");
        return sb.Append(')').ToString();
    }

    private static bool IsQuantizedType(ScalarType t) => t is ScalarType.Int8 or ScalarType.Byte;

    internal static string ShapeText(long[] shape) => "[" + string.Join(", ", shape) + "]";

    // ------------------------------------------------------------------------------------------ saving

    /// <summary>
    /// Writes a checkpoint folder as transformers' <c>save_pretrained</c> does (same file names, same shard split,
    /// same index JSON), replacing <paramref name="dir"/> as a whole: everything is written into a temporary sibling
    /// folder, which is then renamed into place, so readers never see a mix of old and new shards.
    /// </summary>
    /// <param name="dir">The destination folder. If it exists it must hold only checkpoint files (config, weights,
    /// index, tokenizer files); anything else makes the save refuse, because the old folder is deleted.</param>
    /// <param name="config">Written as <c>config.json</c>; <c>torch_dtype</c> is set to the saved float type.</param>
    /// <param name="stateDict">Name → tensor (any device). With tied embeddings, <c>lm_head.weight</c> is left out,
    /// as transformers does, when <c>model.embed_tokens.weight</c> is present.</param>
    /// <param name="dtype">When given, floating tensors are stored in this type (converted one at a time).</param>
    /// <param name="maxShardBytes">Shard size limit; larger state dicts are split like transformers does (5 GB =
    /// 5,000,000,000 bytes by default).</param>
    /// <param name="tokenizerSourceDir">When given, the tokenizer files found there are copied.</param>
    /// <exception cref="CheckpointException">The destination cannot be replaced safely, a tensor cannot be stored,
    /// or the tokenizer folder is missing or has no tokenizer files.</exception>
    public static void Save(string dir, JambaConfig config, IEnumerable<KeyValuePair<string, Tensor>> stateDict, ScalarType? dtype = null,
        long maxShardBytes = 5_000_000_000, string? tokenizerSourceDir = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(stateDict);
        if (maxShardBytes <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), "must be positive");
        if (dtype is ScalarType d && !torch.is_floating_point(d)) throw new ArgumentException($"dtype must be a floating type, got {d}", nameof(dtype));

        string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        string parent = Path.GetDirectoryName(full) ?? throw new CheckpointException($"cannot save a checkpoint to the root folder {full}", full);
        string leaf = Path.GetFileName(full);
        if (File.Exists(full)) throw new CheckpointException($"{full} is a file; a checkpoint folder cannot replace it", full);
        if (Directory.Exists(full)) EnsureReplaceable(full);
        string[] tokenizerFiles = Array.Empty<string>();
        if (tokenizerSourceDir != null)
        {
            if (!Directory.Exists(tokenizerSourceDir)) throw new CheckpointException($"tokenizer folder not found: {tokenizerSourceDir}", tokenizerSourceDir);
            tokenizerFiles = TokenizerFiles.Where(f => File.Exists(Path.Combine(tokenizerSourceDir, f))).ToArray();
            if (tokenizerFiles.Length == 0)
                throw new CheckpointException($"{tokenizerSourceDir} has no tokenizer files ({string.Join(", ", TokenizerFiles)})", tokenizerSourceDir);
        }
        config.Validate();

        var tensors = stateDict.ToList();
        if (config.TieWordEmbeddings && tensors.Any(p => p.Key == "model.embed_tokens.weight"))
            tensors.RemoveAll(p => p.Key == "lm_head.weight");
        var plan = SafeTensors.Plan(tensors, dtype);   // validates names and dtypes before any disk work
        var shards = SplitIntoShards(plan, maxShardBytes);

        var cfg = config.Clone();
        var floatTypes = tensors.Where(p => p.Value.is_floating_point()).Select(p => dtype ?? p.Value.dtype).Distinct().ToList();
        if (floatTypes.Count == 1 && TorchDtypeName(floatTypes[0]) is string dn) cfg.ExtraFields["torch_dtype"] = dn;

        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{leaf}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            cfg.Save(Path.Combine(tmp, ConfigFile));
            var byName = tensors.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            if (shards.Count == 1)
            {
                SafeTensors.SaveCore(Path.Combine(tmp, WeightsFile), shards[0].Select(n => new KeyValuePair<string, Tensor>(n, byName[n])), null, dtype);
            }
            else
            {
                var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
                for (int i = 0; i < shards.Count; i++)
                {
                    string file = string.Create(CultureInfo.InvariantCulture, $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
                    SafeTensors.SaveCore(Path.Combine(tmp, file), shards[i].Select(n => new KeyValuePair<string, Tensor>(n, byName[n])), null, dtype);
                    foreach (var n in shards[i]) weightMap[n] = file;
                }
                long total = plan.Sum(p => p.bytes);
                AtomicFile.WriteAllText(Path.Combine(tmp, IndexFile), IndexJson(total, weightMap));
            }
            foreach (var f in tokenizerFiles) File.Copy(Path.Combine(tokenizerSourceDir!, f), Path.Combine(tmp, f));
            SwapIn(tmp, full, parent, leaf);
        }
        catch
        {
            TryDeleteFolder(tmp);
            throw;
        }
    }

    /// <summary>
    /// The huggingface_hub split: tensors in order; one over the limit gets a shard of its own; otherwise a new shard
    /// starts when the next tensor would push the current one over the limit.
    /// </summary>
    internal static List<List<string>> SplitIntoShards(List<(string name, long bytes)> plan, long maxShardBytes)
    {
        var shards = new List<List<string>>();
        var current = new List<string>();
        long currentSize = 0;
        foreach (var (name, bytes) in plan)
        {
            if (bytes > maxShardBytes)
            {
                shards.Add(new List<string> { name });
                continue;
            }
            if (currentSize + bytes > maxShardBytes)
            {
                shards.Add(current);
                current = new List<string>();
                currentSize = 0;
            }
            current.Add(name);
            currentSize += bytes;
        }
        if (current.Count > 0) shards.Add(current);
        if (shards.Count == 0) shards.Add(current);   // an empty state dict still gets a (tensor-less) model.safetensors
        return shards;
    }

    /// <summary>The index exactly as Python's <c>json.dumps(index, indent=2, sort_keys=True) + "\n"</c> writes it.</summary>
    private static string IndexJson(long totalSize, SortedDictionary<string, string> weightMap)
    {
        var sb = new StringBuilder();
        sb.Append("{\n  \"metadata\": {\n    \"total_size\": ").Append(totalSize.ToString(CultureInfo.InvariantCulture)).Append("\n  },\n  \"weight_map\": {");
        bool first = true;
        foreach (var (name, file) in weightMap)
        {
            sb.Append(first ? "\n" : ",\n");
            first = false;
            sb.Append("    ").Append(PyJsonString(name)).Append(": ").Append(PyJsonString(file));
        }
        sb.Append(first ? "}\n}\n" : "\n  }\n}\n");
        return sb.ToString();
    }

    /// <summary>A JSON string as Python's json module writes it with ensure_ascii (non-ASCII as \uXXXX).</summary>
    private static string PyJsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (ch < 0x20 || ch > 0x7e) sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    private static string? TorchDtypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float64 => "float64",
        _ => null,
    };

    /// <summary>
    /// The old folder is deleted after the swap, so refuse unless it is plainly a checkpoint folder: a mistyped
    /// path must not wipe unrelated data.
    /// </summary>
    private static void EnsureReplaceable(string full)
    {
        var sub = Directory.EnumerateDirectories(full).FirstOrDefault();
        if (sub != null)
            throw new CheckpointException($"refusing to replace {full}: it contains the folder {Path.GetFileName(sub)}, so it is not just a checkpoint", full);
        foreach (var f in Directory.EnumerateFiles(full))
        {
            string name = Path.GetFileName(f);
            bool ok = name == ConfigFile || name == "generation_config.json" || name == IndexFile ||
                      name.EndsWith(".safetensors", StringComparison.Ordinal) || TokenizerFiles.Contains(name);
            if (!ok)
                throw new CheckpointException($"refusing to replace {full}: it contains {name}, which is not a checkpoint file (move it away or save elsewhere)", full);
        }
    }

    private static void SwapIn(string tmp, string full, string parent, string leaf)
    {
        if (!Directory.Exists(full))
        {
            Directory.Move(tmp, full);
            return;
        }
        string old = Path.Combine(parent, $".{leaf}.old-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.Move(full, old);
        try { Directory.Move(tmp, full); }
        catch
        {
            try { Directory.Move(old, full); } catch (IOException) { }
            throw;
        }
        TryDeleteFolder(old);
    }

    private static void TryDeleteFolder(string path)
    {
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
