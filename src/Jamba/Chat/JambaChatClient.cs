using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Jamba.Inference;
using Jamba.Tokenization;
using Microsoft.Extensions.AI;

namespace Jamba.Chat;

/// <summary>
/// A Jamba checkpoint as a Microsoft.Extensions.AI <see cref="IChatClient"/>: the conversation is rendered with the
/// checkpoint's chat template, encoded without added special tokens (the template writes them), and decoded on
/// one <see cref="ChatSession"/>, so a request that extends the previous one prefills only its new tokens.
/// </summary>
/// <remarks>
/// <para>Options: <see cref="ChatOptions.Temperature"/>, <see cref="ChatOptions.TopP"/>, <see cref="ChatOptions.TopK"/>,
/// <see cref="ChatOptions.MaxOutputTokens"/>, <see cref="ChatOptions.StopSequences"/> and <see cref="ChatOptions.Seed"/>;
/// what is not set comes from the checkpoint's <c>generation_config.json</c>.</para>
/// <para>Tools (<see cref="ChatOptions.Tools"/>) are passed to the template as <c>tools</c>; an answer ending in Jamba's
/// <c>&lt;tool_calls&gt;[...]&lt;/tool_calls&gt;</c> comes back as <see cref="FunctionCallContent"/> (see
/// <see cref="ToolCallParser"/> for the rule on malformed blocks), so <c>FunctionInvokingChatClient</c> works over it.</para>
/// <para>Requests are served one at a time (the model and the cache are shared); concurrent calls wait.</para>
/// </remarks>
public sealed class JambaChatClient : IChatClient
{
    private readonly JambaModel model;
    private readonly bool ownsModel;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly ChatSession session;
    private readonly ChatClientMetadata metadata;
    private int callCounter;

    /// <summary>A client over <paramref name="model"/>.</summary>
    /// <param name="model">A causal LM with a tokenizer.</param>
    /// <param name="template">The chat template; null uses the checkpoint's.</param>
    /// <param name="ownsModel">Dispose the model with the client.</param>
    /// <exception cref="InvalidOperationException">No template is given and the checkpoint has none, or the model has no tokenizer.</exception>
    public JambaChatClient(JambaModel model, ChatTemplate? template = null, bool ownsModel = false)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        Template = template ?? model.RequireChatTemplate();
        model.RequireTokenizer();
        session = new ChatSession(model);
        this.ownsModel = ownsModel;
        Generator = session.Generate;
        metadata = new ChatClientMetadata("jamba", null, model.Config.ExtraFields["_name_or_path"]?.ToString() ?? "jamba");
    }

    /// <summary>The token source: <see cref="ChatSession.Generate"/>; tests replace it with a script.</summary>
    internal Func<IReadOnlyList<int>, GenerationOptions, CancellationToken, IEnumerable<int>> Generator { get; set; }

    /// <summary>The chat template in use.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The decoding state kept between requests (its timings describe the last request).</summary>
    public ChatSession Session => session;

    /// <inheritdoc/>
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Everything that can reject the request runs before anything is generated.
        var prompt = EncodeConversation(messages, options);
        var generation = ToGenerationOptions(options);
        var stopSequences = options?.StopSequences?.Where(s => !string.IsNullOrEmpty(s)).ToArray() ?? Array.Empty<string>();
        string responseId = Guid.NewGuid().ToString("N");
        string messageId = Guid.NewGuid().ToString("N");
        ChatResponseUpdate Update(IList<AIContent> contents) => new(ChatRole.Assistant, contents)
        {
            ResponseId = responseId, MessageId = messageId, ModelId = metadata.DefaultModelId, CreatedAt = DateTimeOffset.UtcNow,
        };

        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        // The model runs on a worker thread (TorchSharp's dispose scopes and grad mode are per thread, and each
        // step opens and closes its own), handing tokens over as they are sampled.
        var producer = Task.Run(() =>
        {
            try
            {
                foreach (int t in Generator(prompt, generation, stop.Token)) tokens.Writer.TryWrite(t);
                tokens.Writer.TryComplete();
            }
            catch (Exception e)
            {
                tokens.Writer.TryComplete(e);
            }
        }, CancellationToken.None);
        try
        {
            var stopIds = generation.WithDefaults(model.GenerationConfig) is var g && g.IgnoreStopTokens
                ? new HashSet<int>() : new HashSet<int>(g.StopTokenIds ?? model.Config.EosTokenIds);
            var decoder = new IncrementalDecoder(model.RequireTokenizer());
            var text = new TextHoldBack(stopSequences);
            int outputTokens = 0;
            ChatFinishReason? finish = null;
            await foreach (int token in tokens.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                outputTokens++;
                if (stopIds.Contains(token)) { finish = ChatFinishReason.Stop; break; }
                string ready = text.Add(decoder.Add(token));
                if (ready.Length > 0) yield return Update(new List<AIContent> { new TextContent(ready) });
                if (text.StoppedBySequence) { finish = ChatFinishReason.Stop; break; }
            }
            if (!text.StoppedBySequence)
            {
                string last = text.Add(decoder.Finish());
                if (last.Length > 0) yield return Update(new List<AIContent> { new TextContent(last) });
            }
            finish ??= text.StoppedBySequence ? ChatFinishReason.Stop : ChatFinishReason.Length;
            stop.Cancel();
            var final = new List<AIContent>();
            string held = text.Held;
            if (held.Length > 0)
            {
                if (ToolCallParser.TryParse(held, NewCallId, out string before, out var calls))
                {
                    if (before.Length > 0) final.Add(new TextContent(before));
                    final.AddRange(calls);
                    finish = ChatFinishReason.ToolCalls;
                }
                else final.Add(new TextContent(held));
            }
            final.Add(new UsageContent(new UsageDetails
            {
                InputTokenCount = prompt.Count,
                OutputTokenCount = outputTokens,
                TotalTokenCount = prompt.Count + outputTokens,
            }));
            var end = Update(final);
            end.FinishReason = finish;
            yield return end;
        }
        finally
        {
            stop.Cancel();
            try { await producer.ConfigureAwait(false); } catch { /* its exception reached the reader through the channel */ }
            gate.Release();
        }
    }

    /// <summary>Renders and encodes a conversation as a request would (for tests and benchmarks).</summary>
    public IReadOnlyList<int> EncodeConversation(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        var rendered = Template.Render(ChatMessageMapping.ToTemplateMessages(messages), ChatMessageMapping.ToTemplateTools(options?.Tools), null, addGenerationPrompt: true);
        var ids = model.RequireTokenizer().Encode(rendered);
        if (ids.Count == 0) throw new ArgumentException("the conversation renders to no tokens", nameof(messages));
        return ids;
    }

    /// <summary>The generation options a request's <see cref="ChatOptions"/> ask for; unset ones stay unset (the checkpoint's defaults apply).</summary>
    public static GenerationOptions ToGenerationOptions(ChatOptions? options)
    {
        var o = new GenerationOptions();
        if (options is null) return o;
        if (options.Temperature is float t) o.Temperature = t;
        if (options.TopP is float p) o.TopP = p;
        if (options.TopK is int k) o.TopK = k;
        if (options.MaxOutputTokens is int max) o.MaxNewTokens = max;
        if (options.Seed is long seed) o.Seed = seed;
        return o;
    }

    private string NewCallId() => $"call_{Interlocked.Increment(ref callCounter)}";

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(model)) return model;
        if (serviceType.IsInstanceOfType(session)) return session;
        return null;
    }

    /// <summary>Frees the cache (and the model when owned).</summary>
    public void Dispose()
    {
        session.Dispose();
        gate.Dispose();
        if (ownsModel) model.Dispose();
    }

    /// <summary>
    /// Decides which decoded text may be shown now: text that could still become a stop sequence or the start of a
    /// tool-call block is held back until the next piece settles it; from a tool-call marker on, everything is held.
    /// </summary>
    private sealed class TextHoldBack(string[] stopSequences)
    {
        private readonly System.Text.StringBuilder all = new();
        private int emitted;
        private int toolStart = -1;

        public bool StoppedBySequence { get; private set; }
        /// <summary>Text not yet emitted (a tool-call block, or a tail that matched nothing).</summary>
        public string Held => all.ToString(emitted, all.Length - emitted);

        public string Add(string piece)
        {
            if (StoppedBySequence) return "";
            all.Append(piece);
            string s = all.ToString();
            if (toolStart < 0)
            {
                int m = s.IndexOf(ToolCallParser.Prefix, emitted, StringComparison.Ordinal);
                if (m >= 0) toolStart = m;
            }
            int searchFrom = Math.Max(0, emitted - stopSequences.Select(q => q.Length).DefaultIfEmpty(0).Max());
            int hit = -1;
            foreach (var q in stopSequences)
            {
                int i = s.IndexOf(q, searchFrom, StringComparison.Ordinal);
                if (i >= 0 && (hit < 0 || i < hit)) hit = i;
            }
            if (hit >= 0 && (toolStart < 0 || hit < toolStart))
            {
                StoppedBySequence = true;
                all.Length = hit;
                toolStart = -1;
                return Take(hit);
            }
            if (toolStart >= 0) return Take(toolStart);
            int safe = s.Length;
            foreach (var q in stopSequences.Append(ToolCallParser.Prefix))
                for (int n = Math.Min(q.Length - 1, s.Length); n > 0; n--)
                    if (s.AsSpan(s.Length - n).SequenceEqual(q.AsSpan(0, n))) { safe = Math.Min(safe, s.Length - n); break; }
            return Take(Math.Max(safe, emitted));
        }

        private string Take(int upTo)
        {
            if (upTo <= emitted) return "";
            string r = all.ToString(emitted, upTo - emitted);
            emitted = upTo;
            return r;
        }
    }
}
