// A Jamba checkpoint behind Microsoft.Extensions.AI's IChatClient: two streamed turns, with the function-invocation
// middleware offering the model one C# function. Run: dotnet run --project samples/Jamba.Samples.Chat [-- --model DIR]
// Without --model it talks to the small model trained on the repository's tiny stories and dialogues
// (models/jamba-tiny-stories, copied beside the program), which answers questions about the stories' animals.
using Jamba;
using Jamba.Chat;
using Microsoft.Extensions.AI;

string? userModel = args.Length == 2 && args[0] == "--model" ? args[1]
    : args.Length == 0 ? null
    : throw new ArgumentException("usage: Jamba.Samples.Chat [--model DIR]");
string modelDir = userModel ?? Path.Combine(AppContext.BaseDirectory, "models", "jamba-tiny-stories");
Console.WriteLine($"Model: {modelDir}\n");

using var model = JambaModel.Load(modelDir);
// UseFunctionInvocation: when an answer holds <tool_calls>, the middleware runs the function and asks again with its result.
using IChatClient client = new ChatClientBuilder(new JambaChatClient(model))
    .UseFunctionInvocation()
    .Build();

var options = new ChatOptions
{
    MaxOutputTokens = 48,
    Seed = 1, // the checkpoint's generation_config.json asks for sampling; a seed makes the run repeatable
    Tools = [AIFunctionFactory.Create(() => DateTime.Now.ToString("HH:mm"), "current_time", "The current local time, as HH:mm.")],
};
// The shipped model knows only its little world (and never calls tools); an instruct checkpoint gets everyday questions.
var (system, questions) = userModel is null
    ? ("You are a small model that knows simple stories about animals.", new[] { "What does the blue cat have?", "Where is it?" })
    : ("You are a helpful assistant. Use the tools when they help.", new[] { "What time is it?", "Is that a good time for a walk?" });
List<ChatMessage> history = [new(ChatRole.System, system)];

foreach (string question in questions)
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
