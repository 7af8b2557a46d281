/** The small corpus of the RAG example (made-up facts about a made-up town). */
export const DOCUMENTS = [
  { id: 'history', title: 'History of Lindholm', text: 'Lindholm was founded in 1412 as a ferry crossing on the river Aven. The stone bridge that replaced the ferry was finished in 1788, and the town grew around its market square. In 1903 a fire destroyed the old town hall; the new one was built in red brick in 1906.' },
  { id: 'transport', title: 'Getting around', text: 'Lindholm has two tram lines. Line 1 runs from the station to the harbour every 8 minutes; line 2 runs from the market square to the university every 12 minutes. A day ticket costs 6 euros. Bicycles can be rented at the station for 10 euros a day.' },
  { id: 'food', title: 'Food and markets', text: 'The Saturday market on the square sells smoked eel, rye bread and cloudberry jam. The town is known for its apple cake, served with cardamom cream. The oldest cafe, Kaffe Aven, opened in 1921 next to the bridge.' },
  { id: 'university', title: 'The university', text: 'The University of Lindholm was founded in 1968 and has about 9,000 students. Its best-known institute studies river ecology; the research boat Aven II is moored in the harbour. The library is open to the public on weekdays until 22:00.' },
  { id: 'events', title: 'Events', text: 'The bridge festival takes place every year on the second weekend of June, with boat races on the Aven. In December the market square hosts a light festival. The town orchestra plays free concerts in the park on Sundays in July.' },
];

export const QUESTIONS = [
  'When was the stone bridge finished?',
  'How often does tram line 2 run?',
  'What is served with the apple cake?',
  'When is the bridge festival?',
];
