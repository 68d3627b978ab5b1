using System.Text.Json;
using System.Text.Json.Nodes;

namespace Jamba.Inference;

/// <summary>
/// A checkpoint's <c>generation_config.json</c>: the stop, start and padding ids and the sampling defaults its authors
/// chose. They become the defaults of every <see cref="GenerationOptions"/> used with the model (see
/// <see cref="GenerationOptions.WithDefaults"/>); options set explicitly win. Keys this record does not name are kept
/// in <see cref="Json"/> and written back when the checkpoint is saved.
/// </summary>
public sealed record GenerationConfig
{
    /// <summary>The file name in a checkpoint folder.</summary>
    public const string FileName = "generation_config.json";

    /// <summary><c>eos_token_id</c> (an int or a list): ids that end generation.</summary>
    public int[]? EosTokenIds { get; init; }
    /// <summary><c>bos_token_id</c>.</summary>
    public int? BosTokenId { get; init; }
    /// <summary><c>pad_token_id</c>: what finished rows are filled with.</summary>
    public int? PadTokenId { get; init; }
    /// <summary><c>do_sample</c>: sample (true) or decode greedily (false, Hugging Face's default).</summary>
    public bool? DoSample { get; init; }
    /// <summary><c>temperature</c> (used when sampling).</summary>
    public float? Temperature { get; init; }
    /// <summary><c>top_p</c> (used when sampling).</summary>
    public float? TopP { get; init; }
    /// <summary><c>top_k</c> (used when sampling; Hugging Face's default is 50).</summary>
    public int? TopK { get; init; }
    /// <summary><c>repetition_penalty</c>; 1 is off.</summary>
    public float? RepetitionPenalty { get; init; }
    /// <summary><c>max_new_tokens</c>.</summary>
    public int? MaxNewTokens { get; init; }
    /// <summary>The file's text as read, unknown keys included.</summary>
    public string Json { get; init; } = "{}";

    /// <summary>Reads the <c>generation_config.json</c> of a checkpoint folder, or returns null when it has none.</summary>
    /// <exception cref="InvalidDataException">The file is not valid; the message names the file and the key.</exception>
    public static GenerationConfig? LoadFromFolder(string folder)
    {
        string path = Path.Combine(folder, FileName);
        return File.Exists(path) ? Parse(File.ReadAllText(path), path) : null;
    }

    /// <summary>Parses the text of a <c>generation_config.json</c>.</summary>
    /// <param name="json">The file's text.</param>
    /// <param name="source">What to call it in error messages.</param>
    /// <exception cref="InvalidDataException">Not a JSON object, or a key holds the wrong kind of value; the message names it.</exception>
    public static GenerationConfig Parse(string json, string source = FileName)
    {
        JsonObject o;
        try
        {
            o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
        }

        T? Get<T>(string key) where T : struct
        {
            var node = o[key];
            if (node is null) return null;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{source}: \"{key}\" is {node.ToJsonString()}, expected a {typeof(T).Name switch { "Single" => "number", "Int32" => "integer", "Boolean" => "boolean", var n => n }}", e);
            }
        }

        int[]? eos = o["eos_token_id"] switch
        {
            null => null,
            JsonArray list => list.Select((n, i) => n is JsonValue v && v.TryGetValue(out int id) ? id
                : throw new InvalidDataException($"{source}: eos_token_id[{i}] is {n?.ToJsonString() ?? "null"}, expected an integer")).ToArray(),
            _ => new[] { Get<int>("eos_token_id")!.Value },
        };
        return new GenerationConfig
        {
            EosTokenIds = eos,
            BosTokenId = Get<int>("bos_token_id"),
            PadTokenId = Get<int>("pad_token_id"),
            DoSample = Get<bool>("do_sample"),
            Temperature = Get<float>("temperature"),
            TopP = Get<float>("top_p"),
            TopK = Get<int>("top_k"),
            RepetitionPenalty = Get<float>("repetition_penalty"),
            MaxNewTokens = Get<int>("max_new_tokens"),
            Json = json,
        };
    }
}
