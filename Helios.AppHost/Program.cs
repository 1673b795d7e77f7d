Console.WriteLine("Helios AppHost");
