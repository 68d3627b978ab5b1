using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jamba.MLNet.Internal;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Persistence;

/// <summary>
/// The single-file format of a fitted pipeline that contains Jamba transformers: one zip holding
/// <list type="bullet">
/// <item><c>jamba-pipeline.json</c>, the manifest: the steps in order, each step's settings, and a SHA-256 of every entry;</item>
/// <item><c>mlnet/N.zip</c>, each run of ML.NET transformers between Jamba steps, saved by ML.NET itself with its input
/// schema (the first one, possibly an empty chain, records the pipeline's input schema);</item>
/// <item><c>models/N/…</c>, each distinct Jamba model once, in the Hugging Face layout (config.json, safetensors weights,
/// tokenizer.model when there is one).</item>
/// </list>
/// The file is written beside the target and renamed into place, so a failed save never leaves a partial file.
/// </summary>
internal static class JambaModelFile
{
    public const string ManifestEntry = "jamba-pipeline.json";
    public const string Format = "jamba-mlnet-pipeline";
    public const int Version = 1;

    public static void Save(ModelOperationsCatalog ml, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var leaves = Flatten(model).ToList();
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        var workDir = Directory.CreateTempSubdirectory("jamba-save-");
        try
        {
            var digests = new JsonObject();
            var steps = new JsonArray();
            var modelIds = new Dictionary<JambaModel, string>(ReferenceEqualityComparer.Instance);
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite))
            using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: false))
            {
                var schema = inputSchema;
                var run = new List<ITransformer>();
                var runSchema = schema;
                int segments = 0;

                void FlushRun()
                {
                    string entry = $"mlnet/{segments++}.zip";
                    using var buffer = new MemoryStream();
                    ml.Save(new TransformerChain<ITransformer>(run.ToArray()), runSchema, buffer);
                    buffer.Position = 0;
                    digests[entry] = WriteEntry(zip, entry, buffer, CompressionLevel.Optimal);
                    steps.Add(new JsonObject { ["kind"] = "mlnet", ["entry"] = entry });
                    run.Clear();
                }

                foreach (var leaf in leaves)
                {
                    if (leaf is JambaTransformerBase jamba)
                    {
                        if (run.Count > 0 || segments == 0) FlushRun();
                        if (!modelIds.TryGetValue(jamba.Model, out var id))
                        {
                            id = $"models/{modelIds.Count}";
                            modelIds[jamba.Model] = id;
                            string dir = Path.Combine(workDir.FullName, modelIds.Count.ToString());
                            jamba.Model.Save(dir);
                            foreach (var f in Directory.GetFiles(dir).OrderBy(f => f, StringComparer.Ordinal))
                            {
                                string entry = id + "/" + Path.GetFileName(f);
                                using var source = File.OpenRead(f);
                                digests[entry] = WriteEntry(zip, entry, source, f.EndsWith(".safetensors", StringComparison.Ordinal) ? CompressionLevel.NoCompression : CompressionLevel.Optimal);
                            }
                            Directory.Delete(dir, true);
                        }
                        steps.Add(new JsonObject { ["kind"] = "jamba", ["transformer"] = jamba.PersistenceKind, ["model"] = id, ["settings"] = jamba.SaveSettings() });
                        schema = jamba.GetOutputSchema(schema);
                        runSchema = schema;
                    }
                    else
                    {
                        if (run.Count == 0) runSchema = schema;
                        run.Add(leaf);
                        schema = leaf.GetOutputSchema(schema);
                    }
                }
                if (run.Count > 0 || segments == 0) FlushRun();

                var manifest = new JsonObject
                {
                    ["format"] = Format,
                    ["version"] = Version,
                    ["library"] = typeof(JambaModelFile).Assembly.GetName().Version?.ToString(),
                    ["steps"] = steps,
                    ["sha256"] = digests,
                };
                using var text = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
                WriteEntry(zip, ManifestEntry, text, CompressionLevel.Optimal);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            workDir.Delete(true);
        }
    }

    public static ITransformer Load(ModelOperationsCatalog ml, string path, out DataViewSchema inputSchema, JambaModelOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}", path);
        ZipArchive zip;
        var stream = File.OpenRead(path);
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            stream.Dispose();
            throw Damaged(path, $"it is not a zip archive ({e.Message})", e);
        }
        var owned = new List<JambaModel>();
        var workDir = Directory.CreateTempSubdirectory("jamba-load-");
        try
        {
            using (zip)
            {
                var manifestEntry = zip.GetEntry(ManifestEntry) ?? throw Damaged(path,
                    zip.GetEntry("TransformerChain/Model.key") is not null || zip.Entries.Any(e => e.FullName.StartsWith("TransformerChain", StringComparison.Ordinal))
                        ? "it is a plain ML.NET model (ml.Model.Save); load it with ml.Model.Load" : $"it has no {ManifestEntry}", null);
                JsonObject manifest;
                try
                {
                    using var s = manifestEntry.Open();
                    manifest = JsonNode.Parse(s)!.AsObject();
                }
                catch (Exception e) when (e is JsonException or InvalidDataException or IOException)
                {
                    throw Damaged(path, $"its manifest cannot be read ({e.Message})", e);
                }
                if ((string?)manifest["format"] != Format) throw Damaged(path, $"its manifest's format is '{manifest["format"]}', expected '{Format}'", null);
                int version = (int?)manifest["version"] ?? -1;
                if (version != Version) throw new NotSupportedException($"{path}: format version {version} is not supported by this Jamba.MLNet (it reads version {Version})");

                var digests = manifest["sha256"]!.AsObject();
                foreach (var (name, digest) in digests)
                {
                    var entry = zip.GetEntry(name) ?? throw Damaged(path, $"entry '{name}' listed in the manifest is missing", null);
                    string actual;
                    try
                    {
                        using var s = entry.Open();
                        actual = Convert.ToHexString(SHA256.HashData(s));
                    }
                    catch (Exception e) when (e is InvalidDataException or IOException)
                    {
                        throw Damaged(path, $"entry '{name}' cannot be read ({e.Message})", e);
                    }
                    if (!string.Equals(actual, (string?)digest, StringComparison.OrdinalIgnoreCase))
                        throw Damaged(path, $"entry '{name}' does not match its SHA-256 in the manifest", null);
                }

                var models = new Dictionary<string, JambaModel>();
                var transformers = new List<ITransformer>();
                DataViewSchema? schema = null;
                foreach (var step in manifest["steps"]!.AsArray())
                {
                    string kind = (string)step!["kind"]!;
                    if (kind == "mlnet")
                    {
                        using var buffer = new MemoryStream();
                        using (var s = zip.GetEntry((string)step["entry"]!)!.Open()) s.CopyTo(buffer);
                        buffer.Position = 0;
                        var chain = ml.Load(buffer, out var segmentSchema);
                        schema ??= segmentSchema;
                        if (chain is TransformerChain<ITransformer> c) transformers.AddRange(c);
                        else transformers.Add(chain);
                    }
                    else if (kind == "jamba")
                    {
                        string id = (string)step["model"]!;
                        bool first = !models.TryGetValue(id, out var model);
                        if (first)
                        {
                            string dir = Path.Combine(workDir.FullName, models.Count.ToString());
                            Directory.CreateDirectory(dir);
                            foreach (var entry in zip.Entries.Where(e => e.FullName.StartsWith(id + "/", StringComparison.Ordinal)))
                                entry.ExtractToFile(Path.Combine(dir, entry.FullName[(id.Length + 1)..]));
                            model = JambaModel.Load(dir, options);
                            models[id] = model;
                            owned.Add(model);
                        }
                        transformers.Add(Create((string)step["transformer"]!, model!, first, step["settings"]!.AsObject(), path));
                    }
                    else throw Damaged(path, $"unknown step kind '{kind}'", null);
                }
                inputSchema = schema ?? throw Damaged(path, "it has no ML.NET segment recording the input schema", null);
                owned.Clear();
                return new TransformerChain<ITransformer>(transformers.ToArray());
            }
        }
        catch
        {
            foreach (var m in owned) m.Dispose();
            throw;
        }
        finally
        {
            workDir.Delete(true);
        }
    }

    private static JambaTransformerBase Create(string kind, JambaModel model, bool owns, JsonObject settings, string path) => kind switch
    {
        JambaTokenizingTransformer.Kind => JambaTokenizingTransformer.Load(model, owns, settings),
        JambaEmbeddingTransformer.Kind => JambaEmbeddingTransformer.Load(model, owns, settings),
        JambaGeneratingTransformer.Kind => JambaGeneratingTransformer.Load(model, owns, settings),
        JambaClassifyingTransformer.Kind => JambaClassifyingTransformer.Load(model, owns, settings),
        JambaMulticlassTransformer.Kind => JambaMulticlassTransformer.Load(model, owns, settings),
        JambaBinaryTransformer.Kind => JambaBinaryTransformer.Load(model, owns, settings),
        JambaRegressionTransformer.Kind => JambaRegressionTransformer.Load(model, owns, settings),
        _ => throw new NotSupportedException($"{path}: transformer kind '{kind}' is not known to this Jamba.MLNet"),
    };

    private static IEnumerable<ITransformer> Flatten(ITransformer transformer)
    {
        // TransformerChain<T> is the only public composite; its elements are enumerable.
        if (transformer is IEnumerable<ITransformer> chain && transformer.GetType().IsGenericType
            && transformer.GetType().GetGenericTypeDefinition() == typeof(TransformerChain<>))
        {
            foreach (var t in chain)
                foreach (var leaf in Flatten(t)) yield return leaf;
        }
        else yield return transformer;
    }

    private static string WriteEntry(ZipArchive zip, string name, Stream content, CompressionLevel level)
    {
        var entry = zip.CreateEntry(name, level);
        using var target = entry.Open();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        int n;
        while ((n = content.Read(buffer, 0, buffer.Length)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            target.Write(buffer, 0, n);
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private static InvalidDataException Damaged(string path, string why, Exception? inner) =>
        new($"'{path}' cannot be loaded as a Jamba ML.NET pipeline (saved by ml.Model.SaveJamba): {why}. The file may be truncated or damaged.", inner);

    /// <summary>
    /// The refusal of ML.NET's plain ml.Model.Save. ML.NET has already created the target file when it asks a
    /// transformer to save itself, and nothing in its public API (nor in ZipArchive's) names that file, so the message
    /// says the file it left is incomplete; ML.NET's ml.Model.Load refuses such a file.
    /// </summary>
    public static InvalidOperationException RefusePlainSave(JambaTransformerBase transformer, ModelSaveContext ctx) => new(
        $"This pipeline contains a Jamba transformer ({transformer.GetType().Name}), whose weights ML.NET's ml.Model.Save cannot store. " +
        "Save it with ml.Model.SaveJamba(model, inputSchema, path) and load it with ml.Model.LoadJamba(path, out inputSchema); " +
        "the file ml.Model.Save had already created is incomplete: delete it.");
}
