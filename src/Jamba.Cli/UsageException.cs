namespace Jamba.Cli;

/// <summary>A usage error: bad or missing option. Printed as one line; exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
