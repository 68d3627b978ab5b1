using System.CommandLine;
using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jamba.Chat;
using Jamba.Chat.Templates;
using Microsoft.Extensions.AI;

namespace Jamba.Cli.Commands;

/// <summary>
/// `jamba chat`: an interactive conversation on standard input with streamed answers, through
/// <see cref="JambaChatClient"/>; with --render, the chat template as a line-by-line JSON service.
/// </summary>
internal sealed class ChatCommand : JambaCommand
{
    private readonly ModelArgs modelArgs;
    private readonly Option<string?> system = CliOption.Text("--system", "TEXT", "a system message opening the conversation");
    private readonly Option<bool> render = CliOption.Flag("--render", "render conversations read as JSON lines on stdin instead of chatting (no weights are loaded)");
    private readonly Option<string?> chatTemplate = CliOption.Text("--chat-template", "FILE", "a .jinja template or a tokenizer_config.json to use instead of the checkpoint's");
    private readonly Option<int> maxNewTokens = CliOption.Int("--max-new-tokens", "N", "tokens per answer at most (default: generation_config.json's, else 256)", 256, 1, 1 << 20);
    private readonly Option<bool> greedy = CliOption.Flag("--greedy", "argmax decoding (the default unless generation_config.json samples)");
    private readonly Option<float> temperature = CliOption.Float("--temperature", "T", "sample with temperature T > 0", 0);
    private readonly Option<int> topK = CliOption.Int("--top-k", "K", "keep the K most likely tokens (0 = all)", 0, 0);
    private readonly Option<float> topP = CliOption.Float("--top-p", "P", "keep the smallest set of tokens whose probability reaches P", 1);
    private readonly Option<long?> seed = CliOption.Long("--seed", "S", "sampling seed");
    private readonly Option<string?> tokenizer = CliOption.Text("--tokenizer", "T", "tokenizer to use instead of the checkpoint's (file or 'byte')");

    public ChatCommand() : base("chat", "chat with a checkpoint through its chat template (streamed); --render renders templates as a JSON service",
        "Interactive: type a message and press Enter; /reset starts a new conversation, /exit (or end of input) quits. After each\n" +
        "answer the decode speed is printed to stderr. Options not given take the checkpoint's generation_config.json values.\n" +
        "--render: reads one JSON object per line, {\"messages\": [...], \"tools\": [...]?, \"documents\": [...]?, \"add_generation_prompt\": true|false},\n" +
        "and prints per line the rendered prompt as one JSON string, or {\"error\": \"<message>\"} when the template raises or the line is invalid.")
    {
        modelArgs = new ModelArgs(this, modelDescription: "checkpoint folder (config.json + safetensors + tokenizer + tokenizer_config.json with a chat_template)");
        foreach (var option in new Option[] { system, render, chatTemplate, maxNewTokens, greedy, temperature, topK, topP, seed, tokenizer })
            Options.Add(option);
    }

    protected override int Run(ParseResult parse)
    {
        string dir = parse.GetValue(modelArgs.Model)!;
        if (parse.GetValue(render)) return Render(LoadTemplate(parse, dir));
        if (parse.GetValue(greedy) && parse.Given(temperature)) throw new UsageException("--greedy and --temperature exclude each other");

        var options = new ChatOptions();
        if (parse.Given(maxNewTokens)) options.MaxOutputTokens = parse.GetValue(maxNewTokens);
        if (parse.GetValue(greedy)) options.Temperature = 0;
        else if (parse.Given(temperature)) options.Temperature = parse.GetValue(temperature);
        if (parse.Given(topK)) options.TopK = parse.GetValue(topK);
        if (parse.Given(topP)) options.TopP = parse.GetValue(topP);
        options.Seed = parse.GetValue(seed);

        using var model = modelArgs.Load(parse, parse.GetValue(tokenizer));
        if (model.CausalLM is null) throw new InvalidOperationException("this checkpoint is a sequence classifier; chat needs a JambaForCausalLM");
        var template = parse.GetValue(chatTemplate) is not null ? LoadTemplate(parse, dir) : model.RequireChatTemplate();
        options.MaxOutputTokens ??= model.GenerationConfig?.MaxNewTokens is null ? 256 : null;
        using var client = new JambaChatClient(model, template);
        try { JambaChatClient.ToGenerationOptions(options).WithDefaults(model.GenerationConfig).Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new UsageException(e.Message); }
        return Interactive(client, parse.GetValue(system), options);
    }

    private static int Interactive(JambaChatClient client, string? systemText, ChatOptions options)
    {
        var history = new List<ChatMessage>();
        void Reset()
        {
            history.Clear();
            if (!string.IsNullOrEmpty(systemText)) history.Add(new ChatMessage(ChatRole.System, systemText));
        }
        Reset();
        CancellationTokenSource? answering = null;
        Console.CancelKeyPress += (_, e) =>
        {
            // Ctrl+C stops the answer being written; a second one (or one at the prompt) quits.
            if (answering is { IsCancellationRequested: false } a) { e.Cancel = true; a.Cancel(); }
        };
        bool interactive = !Console.IsInputRedirected;
        while (true)
        {
            if (interactive) Console.Write("> ");
            string? line = Console.ReadLine();
            if (line is null || line.Trim() == "/exit") return 0;
            if (line.Trim() == "/reset")
            {
                Reset();
                client.Session.Reset();
                Console.Error.WriteLine("(new conversation)");
                continue;
            }
            if (line.Trim().Length == 0) continue;
            history.Add(new ChatMessage(ChatRole.User, line));
            answering = new CancellationTokenSource();
            var updates = new List<ChatResponseUpdate>();
            var clock = Stopwatch.StartNew();
            TimeSpan firstToken = TimeSpan.Zero;
            try
            {
                var stream = client.GetStreamingResponseAsync(history, options, answering.Token).GetAsyncEnumerator();
                try
                {
                    while (stream.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                    {
                        var update = stream.Current;
                        if (updates.Count == 0) firstToken = clock.Elapsed;
                        updates.Add(update);
                        Console.Write(update.Text);
                    }
                }
                finally { stream.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine(" [stopped]");
            }
            Console.WriteLine();
            var response = updates.ToChatResponse();
            history.AddRange(response.Messages);
            long output = response.Usage?.OutputTokenCount ?? 0;
            double decodeSeconds = (clock.Elapsed - firstToken).TotalSeconds;
            var session = client.Session;
            Console.Error.WriteLine(
                $"[{output} tokens, {(output > 1 && decodeSeconds > 0 ? (output - 1) / decodeSeconds : 0):F1} tokens/s decode, first token after {session.LastTimeToFirstToken.TotalMilliseconds:F0} ms " +
                $"({session.LastPrefilledTokens} prompt tokens prefilled, {session.LastReusedTokens} reused), finish: {response.FinishReason?.Value ?? "-"}]");
        }
    }

    private ChatTemplate LoadTemplate(ParseResult parse, string dir)
    {
        if (parse.GetValue(chatTemplate) is not { } file)
            return JambaModel.FindChatTemplate(dir) ?? throw new InvalidOperationException(
                $"{dir} has no chat template (neither chat_template.jinja nor a chat_template in tokenizer_config.json); give --chat-template FILE");
        if (!File.Exists(file)) throw new UsageException($"--chat-template: {file} does not exist");
        if (file.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return ChatTemplate.FromTokenizerConfigFile(file);
        // A bare .jinja file: the special tokens still come from the checkpoint's tokenizer_config.json.
        string config = Path.Combine(dir, "tokenizer_config.json");
        var specialTokens = File.Exists(config) ? SpecialTokensOf(config) : null;
        return new ChatTemplate(File.ReadAllText(file), specialTokens);
    }

    private static Dictionary<string, object?> SpecialTokensOf(string configPath)
    {
        var config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new InvalidDataException($"{configPath} must hold a JSON object");
        // Reuse ChatTemplate's own reading of the special tokens with a placeholder template.
        config["chat_template"] = "";
        return ChatTemplate.FromTokenizerConfigJson(config.ToJsonString()).SpecialTokens.ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static int Render(ChatTemplate template)
    {
        string? line;
        while ((line = Console.ReadLine()) is not null)
        {
            if (line.Trim().Length == 0) continue;
            Console.WriteLine(RenderLine(template, line));
        }
        return 0;
    }

    /// <summary>One request line to one output line: the rendered prompt as a JSON string, or an error object.</summary>
    internal static string RenderLine(ChatTemplate template, string line)
    {
        try
        {
            if (JsonNode.Parse(line) is not JsonObject request) return Error("each line must be a JSON object");
            if (request["messages"] is not JsonArray messages) return Error("\"messages\" must be a list of message objects");
            bool generationPrompt = request["add_generation_prompt"] is JsonNode g ? g.GetValue<bool>() : false;
            string text = template.Render(messages, request["tools"], request["documents"], generationPrompt);
            return JsonSerializer.Serialize(text, Json);
        }
        catch (TemplateException e) { return Error(e.Message); }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or KeyNotFoundException or FormatException) { return Error(e.Message); }
    }

    private static string Error(string message) => new JsonObject { ["error"] = message }.ToJsonString(Json);
}
