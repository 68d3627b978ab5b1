// A Jamba checkpoint behind Microsoft.Extensions.AI's IChatClient: two streamed turns, with the function-invocation
// middleware offering the model one C# function. Run: dotnet run --project samples/Jamba.Samples.Chat [-- --model DIR]
using System.Text.Json.Nodes;
using Jamba;
using Jamba.Chat;
using Microsoft.Extensions.AI;

string? modelDir = args.Length == 2 && args[0] == "--model" ? args[1]
    : args.Length == 0 ? null
    : throw new ArgumentException("usage: Jamba.Samples.Chat [--model DIR]");
if (modelDir is null)
{
    modelDir = TinyCheckpoint.Create();
    Console.WriteLine($"No --model given: a tiny random Jamba was written to {modelDir}.");
    Console.WriteLine("Its answers are noise (untrained weights) and it will not call the tool; pass --model with an instruct checkpoint.\n");
}

using var model = JambaModel.Load(modelDir);
// UseFunctionInvocation: when an answer holds <tool_calls>, the middleware runs the function and asks again with its result.
using IChatClient client = new ChatClientBuilder(new JambaChatClient(model))
    .UseFunctionInvocation()
    .Build();

var options = new ChatOptions
{
    MaxOutputTokens = 48,
    Tools = [AIFunctionFactory.Create(() => DateTime.Now.ToString("HH:mm"), "current_time", "The current local time, as HH:mm.")],
};
List<ChatMessage> history = [new(ChatRole.System, "You are a helpful assistant. Use the tools when they help.")];

foreach (string question in new[] { "What time is it?", "Is that a good time for a walk?" })
{
    history.Add(new ChatMessage(ChatRole.User, question));
    Console.WriteLine($"user: {question}");
    Console.Write("assistant: ");
    var updates = new List<ChatResponseUpdate>();
    await foreach (var update in client.GetStreamingResponseAsync(history, options))
    {
        Console.Write(update.Text);
        updates.Add(update);
    }
    var response = updates.ToChatResponse();
    history.AddMessages(response);
    Console.WriteLine($"\n  [{response.Usage?.InputTokenCount} prompt tokens, {response.Usage?.OutputTokenCount} new, finish: {response.FinishReason}]\n");
}

/// <summary>A random checkpoint folder with the byte tokenizer and a small chat template that knows tools.</summary>
static class TinyCheckpoint
{
    private const string Template =
        "{% if tools %}<|tools|>{{ tools | tojson }}{{ '\\n' }}{% endif %}" +
        "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}" +
        "{% if m.tool_calls %}<tool_calls>[{% for c in m.tool_calls %}{\"name\": \"{{ c.function.name }}\", \"arguments\": {{ c.function.arguments | tojson }}}{% if not loop.last %},{% endif %}{% endfor %}]</tool_calls>{% endif %}{{ '\\n' }}" +
        "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

    public static string Create()
    {
        var config = new JambaConfig
        {
            VocabSize = 260, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 4,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, AttnLayerPeriod = 4, AttnLayerOffset = 2,
            ExpertLayerPeriod = 2, ExpertLayerOffset = 1, NumExperts = 4, NumExpertsPerTok = 2,
            MambaDState = 8, MambaDConv = 4, MambaExpand = 2, MambaDtRankValue = 4,
            PadTokenId = 0, BosTokenId = 1, EosTokenIds = [2],
        };
        string dir = Path.Combine(Path.GetTempPath(), "jamba-chat-sample", Guid.NewGuid().ToString("N"));
        using (var model = JambaModel.Create(config, seed: 7)) model.Save(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), new JsonObject { ["chat_template"] = Template }.ToJsonString());
        return dir;
    }
}
