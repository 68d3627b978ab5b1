using Jamba.Chat;
using Jamba.Inference;
using Microsoft.Extensions.AI;

namespace Jamba.Tests.Chat.Client;

/// <summary>
/// The client's tool-call path under Microsoft.Extensions.AI's FunctionInvokingChatClient. A random model does not write
/// tool calls, so the model's tokens are scripted (the byte encoding of a fixed answer, then EOS); everything else —
/// rendering, streaming, hold-back, parsing, the round trip of the result through the template — is the real code.
/// </summary>
[TestClass]
public sealed class FunctionInvocationTests
{
    private static string dir = null!;

    [ClassInitialize]
    public static void MakeCheckpoint(TestContext _) => dir = ChatCheckpoint.Create();

    private static JambaChatClient Scripted(JambaModel model, List<string> prompts, params string[] answers)
    {
        var tokenizer = model.RequireTokenizer();
        int turn = 0;
        var client = new JambaChatClient(model);
        client.Generator = (prompt, options, ct) =>
        {
            prompts.Add(tokenizer.Decode(prompt, skipSpecialTokens: false));
            return tokenizer.Encode(answers[turn++]).Append(tokenizer.EosId!.Value).ToList();
        };
        return client;
    }

    [TestMethod]
    public async Task TheMiddlewareCallsTheFunctionAndSendsItsResultBack()
    {
        using var model = JambaModel.Load(dir);
        var prompts = new List<string>();
        using var inner = Scripted(model, prompts,
            "Let me check.<tool_calls>[{\"name\": \"current_time\", \"arguments\": {\"zone\": \"UTC\"}}]</tool_calls>",
            "It is 12:34.");
        string? zoneSeen = null;
        var tool = AIFunctionFactory.Create((string zone) => { zoneSeen = zone; return "12:34"; }, "current_time", "The current time in a zone");
        using var client = new ChatClientBuilder(inner).UseFunctionInvocation().Build();
        var options = new ChatOptions { Tools = [tool] };

        var streamed = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "time?")], options)) streamed.Add(u);
        var response = streamed.ToChatResponse();

        Assert.AreEqual("UTC", zoneSeen, "the function ran with the parsed argument");
        Assert.AreEqual(2, prompts.Count);
        StringAssert.Contains(prompts[1], "<|assistant|>Let me check.<tool_calls>[{\"name\": \"current_time\", \"arguments\": {\"zone\": \"UTC\"}}]</tool_calls>\n<|tool|>12:34\n<|assistant|>");
        Assert.IsFalse(string.Concat(streamed.Select(u => u.Text)).Contains("<tool_calls>"), "the call block is never streamed as text");
        StringAssert.EndsWith(response.Text, "It is 12:34.");
        Assert.AreEqual(ChatFinishReason.Stop, response.FinishReason);
    }

    [TestMethod]
    public async Task AMalformedBlockComesBackAsText()
    {
        using var model = JambaModel.Load(dir);
        var prompts = new List<string>();
        const string answer = "<tool_calls>[{\"name\": \"current_time\", \"arguments\": {]</tool_calls>";
        using var client = Scripted(model, prompts, answer);
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "time?")]);
        Assert.AreEqual(answer, response.Text);
        Assert.AreEqual(ChatFinishReason.Stop, response.FinishReason);
        Assert.IsFalse(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Any());
    }

    [TestMethod]
    public async Task TextThatOnlyLooksLikeAMarkerIsStreamed()
    {
        using var model = JambaModel.Load(dir);
        using var client = Scripted(model, new List<string>(), "a <tool that is not a call");
        var pieces = new List<string>();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")])) if (u.Text.Length > 0) pieces.Add(u.Text);
        Assert.AreEqual("a <tool that is not a call", string.Concat(pieces));
    }
}
