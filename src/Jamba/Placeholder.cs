namespace Jamba;
