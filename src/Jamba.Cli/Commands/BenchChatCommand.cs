using System.CommandLine;
using Jamba.Chat;
using Jamba.Lab.Benchmarking;

namespace Jamba.Cli.Commands;

/// <summary>`jamba bench chat`: time to first token per turn of a growing conversation, with and without cache reuse.</summary>
internal sealed class BenchChatCommand : JambaCommand
{
    private readonly ModelArgs modelArgs;
    private readonly Option<int> turns = CliOption.Int("--turns", "N", "turns of the conversation", 8, 1, 1000);
    private readonly Option<int> userWords = CliOption.Int("--user-words", "W", "words per user message", 48, 1);
    private readonly Option<int> answerTokens = CliOption.Int("--answer-tokens", "T", "greedy tokens per answer", 32, 1);
    private readonly Option<int> prefillChunk = CliOption.Int("--prefill-chunk", "C", "prefill positions per forward pass", 512, 1);

    public BenchChatCommand() : base("chat", "time to first token per chat turn, with and without reusing the cache across turns",
        "Each turn adds a user message and a greedy answer. One session keeps its cache between turns and prefills only the\n" +
        "new tokens (KV kept, Mamba state restored from the snapshot at the previous prompt's end); the other prefills the\n" +
        "whole conversation every turn. The checkpoint's chat template is used, or a plain role-header template without one.")
    {
        modelArgs = new ModelArgs(this, dtypeDescription: "f32 or bf16", modelDescription: "checkpoint folder");
        foreach (var option in new Option[] { turns, userWords, answerTokens, prefillChunk })
            Options.Add(option);
    }

    protected override int Run(ParseResult parse)
    {
        using var model = modelArgs.Load(parse);
        if (model.CausalLM is null) throw new InvalidOperationException("this checkpoint is a sequence classifier; chat needs a JambaForCausalLM");
        var template = model.ChatTemplate ?? new ChatTemplate(ChatBenchmark.PlainTemplate);
        Console.Error.WriteLine(model.ChatTemplate is null ? "the checkpoint has no chat template: using a plain role-header template" : "using the checkpoint's chat template");
        var rows = ChatBenchmark.Run(model, template, parse.GetValue(turns), parse.GetValue(userWords), parse.GetValue(answerTokens),
            parse.GetValue(prefillChunk), line => Console.Error.WriteLine(line));
        Console.WriteLine("| turn | prompt tokens | reused | prefilled | TTFT with reuse (ms) | TTFT without reuse (ms) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            Console.WriteLine($"| {r.Turn} | {r.PromptTokens} | {r.ReusedTokens} | {r.PromptTokens - r.ReusedTokens} | {r.WithReuse.TotalMilliseconds:F1} | {r.WithoutReuse.TotalMilliseconds:F1} |");
        return 0;
    }
}
