namespace Jamba.Quickstart;

/// <summary>
/// Bad input from the user (a data file, a model folder, an option): the program prints the message as one line and
/// exits with a non-zero code, without a stack trace and before writing any output.
/// </summary>
public sealed class QuickstartInputException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> names the problem and, where it helps, the fix.</summary>
    public QuickstartInputException(string message) : base(message) { }

    /// <summary>Creates the exception with the error that caused it.</summary>
    public QuickstartInputException(string message, Exception inner) : base(message, inner) { }
}
